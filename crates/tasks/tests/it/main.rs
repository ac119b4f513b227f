//! Integration tests of finstage-tasks: one generic suite per backend (memory here), on tokio's
//! paused clock.

mod suite;

/// Instantiates the generic suite for a backend constructor.
macro_rules! backend_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use std::sync::Arc;

            use finstage_tasks::TaskBackend;

            async fn backend() -> Arc<dyn TaskBackend> {
                $make
            }

            crate::suite::tests!(backend);
        }
    };
}

backend_suite!(memory, Arc::new(finstage_tasks::MemoryBackend::new()));
