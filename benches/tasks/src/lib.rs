//! Benchmarks of finstage-tasks: see `benches/tasks.rs`.
