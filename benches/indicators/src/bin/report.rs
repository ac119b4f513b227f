//! Prints the Markdown summary of the last indicator benchmark run.
//!
//! `report [CRITERION_DIR] [--since UNIX_SECONDS]`: the directory defaults to
//! `$CARGO_TARGET_DIR/criterion` or the workspace's `target/criterion`; `--since` ignores
//! estimates older than the given time (left over from an earlier run).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use finstage_indicators_bench::report::{self, Options};
use finstage_indicators_bench::talib::TaLib;

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("report: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut args: impl Iterator<Item = String>) -> Result<String, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = Options {
        criterion_dir: report::default_criterion_dir(&workspace),
        since: None,
    };
    while let Some(arg) = args.next() {
        if arg == "--since" {
            let seconds = args
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or("--since takes a Unix time in seconds")?;
            options.since = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds));
        } else {
            options.criterion_dir = PathBuf::from(arg);
        }
    }
    let talib = match TaLib::from_env() {
        Ok(Some(talib)) => format!("TA-Lib {} ({})", talib.version(), talib.path()),
        Ok(None) => TaLib::skipped_message(),
        Err(e) => e.to_string(),
    };
    let table = report::render(&options).map_err(|e| e.to_string())?;
    Ok(format!(
        "{talib}\nEstimates from {}\n\n{table}",
        options.criterion_dir.display()
    ))
}
