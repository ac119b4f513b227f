//! Benchmarks of finstage-store: see `benches/store.rs`.
