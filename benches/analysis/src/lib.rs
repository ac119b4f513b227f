//! Benchmarks of finstage-analysis (see `benches/analysis.rs`).
