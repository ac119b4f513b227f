//! Integration tests of `finstage-domain`, through its public API only.

mod bar_props;
mod json_shapes;
mod symbol_props;
