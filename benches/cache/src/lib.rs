//! Benchmarks of `finstage-cache` live in `benches/`; this library is empty.
