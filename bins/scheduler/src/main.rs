//! `finstage-scheduler`: loads the layered configuration, then runs the command the operator
//! gave (`run`, `once`, `backfill`, `import`, `migrate`; `--help` for each). Exit codes: 0 done,
//! 1 failed, 2 bad configuration or arguments.

use std::process::ExitCode;

use clap::Parser;
use finstage_core::config::{Config, ConfigSources};
use finstage_scheduler::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = ConfigSources::from_process_env();
    let config = match Config::load(&sources) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("finstage-scheduler: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli, &config, &sources).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "finstage-scheduler failed");
            eprintln!("finstage-scheduler: {e}");
            ExitCode::FAILURE
        }
    }
}
