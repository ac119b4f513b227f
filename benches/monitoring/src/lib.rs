//! Benchmarks of `finstage-monitoring`: see `benches/monitoring.rs`.
