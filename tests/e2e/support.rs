//! Starting the binaries: built once per test run (`cargo build` of the two binaries, a no-op
//! when `cargo test --workspace --all-features` built them already), each process with a clean environment and
//! its output in a log file, waited on by what it logs — never by sleeping a fixed time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The built binary `name`, building both binaries on first use.
pub(crate) fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            // The whole workspace's features, as `cargo test --workspace --all-features` builds
            // the binaries: then this build finds them up to date.
            .args([
                "build",
                "--locked",
                "--workspace",
                "--all-features",
                "--bin",
                "finstage-api",
                "--bin",
                "finstage-scheduler",
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the binaries build");
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
        target.join("debug")
    });
    dir.join(name)
}

/// A command for `name` with a clean environment, `vars` and the working directory `dir`.
pub(crate) fn command(name: &str, dir: &Path, vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(binary(name));
    command.env_clear();
    command.env("PATH", std::env::var("PATH").unwrap_or_default());
    command.env("FINSTAGE_LOG", "info,finstage=debug");
    command.current_dir(dir);
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// A command's output for assertion messages.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A running process whose output goes to a log file; killed when dropped.
pub(crate) struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command`, its output in `log`.
    pub(crate) fn start(mut command: Command, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Process { child, log }
    }

    /// Everything it logged so far.
    pub(crate) fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Waits until its log holds a line matching `find`, which returns what it extracts;
    /// panics with the log when the process exits or a minute passes first.
    pub(crate) async fn wait_for<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self.log().lines().find_map(&find) {
                return found;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the process exited ({status}) before {what}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no {what} after 60 s:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The port `finstage-api` listens on, from its log.
    pub(crate) async fn api_port(&mut self) -> u16 {
        self.wait_for("the API listening", |line| {
            let rest = line.split("finstage-api listening").nth(1)?;
            rest.split("port=").nth(1)?.split_whitespace().next()?.parse().ok()
        })
        .await
    }

    /// SIGKILL, as a crash.
    pub(crate) fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then its exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
