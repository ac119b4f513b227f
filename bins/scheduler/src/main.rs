//! `finstage-scheduler`: loads the layered configuration, then runs the command the operator
//! gave (`run`, `once`, `backfill`, `import`, `migrate`; `--help` for each). Exit codes: 0 done,
//! 1 failed, 2 bad configuration or arguments.

use std::process::ExitCode;

use clap::Parser;
use finstage_core::allocator;
use finstage_core::config::{Config, ConfigSources};
use finstage_scheduler::{Cli, run};

fn main() -> ExitCode {
    allocator::limit_arenas();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(start()),
        Err(e) => {
            eprintln!("finstage-scheduler: the runtime did not start: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    let sources = ConfigSources::from_process_env();
    let config = match Config::load(&sources) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("finstage-scheduler: {e}");
            return ExitCode::from(2);
        }
    };
    allocator::trim_periodically();
    match run(cli, &config, &sources).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "finstage-scheduler failed");
            eprintln!("finstage-scheduler: {e}");
            ExitCode::FAILURE
        }
    }
}
