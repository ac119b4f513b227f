//! Durations in the configuration: [`finstage_analysis::duration`] (`"200ms"`, `"90s"`, `"3m"`,
//! `"6h"`, `"1d"`, `"2w"` or a whole number of seconds), re-exported so that
//! `#[serde(with = "crate::config::duration")]` reads as the configuration's own.

pub use finstage_analysis::duration::{deserialize, format, map, parse, serialize};
