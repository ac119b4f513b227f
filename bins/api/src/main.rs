//! `finstage-api`: loads the layered configuration (defaults < `finstage.toml` < `FINSTAGE_*`
//! variables), then serves the HTTP API and the live stream until SIGINT or SIGTERM. With no
//! configuration: SQLite under `./var/` with the bundled history imported on first start, the
//! memory cache, the in-process bus, Yahoo behind the resilience layer, on 127.0.0.1:8080, with
//! the scheduler's jobs in-process (`FINSTAGE_EMBEDDED_JOBS=false` turns them off).

use std::process::ExitCode;

use finstage_api::Application;
use std::time::Duration;

use finstage_api::bootstrap::start;
use finstage_core::allocator;
use finstage_core::config::{Config, ConfigSources};
use finstage_monitoring::{Metrics, MetricsConfig, init_logging};

fn main() -> ExitCode {
    allocator::limit_arenas();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("finstage-api: the runtime did not start: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    let sources = ConfigSources::from_process_env();
    let config = match Config::load(&sources) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("finstage-api: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&config, &sources).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "finstage-api stopped");
            eprintln!("finstage-api: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &Config, sources: &ConfigSources) -> Result<(), Box<dyn std::error::Error>> {
    init_logging(&config.log, std::io::stdout)?;
    for variable in sources.unused_variables() {
        tracing::warn!(variable, "unknown FINSTAGE_ variable ignored");
    }
    let metrics = Metrics::install(&MetricsConfig::default())?;
    let process = start(config, metrics).await?;
    let app = Application::build(process.state, process.options).await?;
    // Start-up (the bundled history's import above all) freed more than the server keeps, and
    // the jobs free a ten-year history per symbol in bursts: give it back to the system.
    allocator::trim_periodically();
    tracing::info!(port = app.port(), "finstage-api listening");
    let served = app.run_until_stopped().await;
    if let Some(jobs) = process.jobs {
        // Running jobs get a grace period, then their tasks go back to the queue.
        let report = jobs.shutdown(Duration::from_secs(10)).await;
        tracing::info!(finished = report.finished, released = report.released, "jobs stopped");
    }
    served?;
    Ok(())
}
