//! Benchmarks of finstage-marketdata: see `benches/marketdata.rs`.
