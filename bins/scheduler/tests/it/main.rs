//! `finstage-scheduler` as operators run it: the real binary started as a process against the
//! mock Yahoo and real databases — its commands, their help, their exit codes, and two
//! daemons on one PostgreSQL database firing each schedule slot once.

mod commands;
mod daemon;

use std::process::{Command, Output};

use finstage_store::DatabaseUrl;

/// The binary with a clean environment (no `FINSTAGE_*` of the caller) and `vars`.
pub(crate) fn scheduler(vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_finstage-scheduler"));
    command.env_clear();
    command.env("PATH", std::env::var("PATH").unwrap_or_default());
    // No finstage.toml from the working directory.
    let empty = std::env::temp_dir();
    command.current_dir(empty);
    command.env("FINSTAGE_LOG", "info");
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

pub(crate) fn database(url: &DatabaseUrl) -> (&'static str, String) {
    ("FINSTAGE_DATABASE_URL", url.expose_secret().to_owned())
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
