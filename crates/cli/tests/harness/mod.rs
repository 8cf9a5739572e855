//! Shared harness of the CLI's integration tests: a real `weft controller` process on a loopback
//! port of its own, in a temporary directory of its own, and the `weft` binary pointed at it.
//!
//! Hygiene: every process a test starts is held by a guard whose `Drop` kills it by its own PID
//! and reaps it, so a panicking test leaves nothing behind. Nothing touches `~/.weft`: `HOME` and
//! `WEFT_CONFIG` always point into the test's temporary directory.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `weft` binary under test.
pub const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// The repository's `examples/` directory.
pub fn examples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
}

/// How long a controller may take to become ready (debug build, 2 busy cores).
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A child process killed (by its own PID) and reaped when dropped.
pub struct ChildGuard {
    child: Option<Child>,
    what: String,
}

impl ChildGuard {
    pub fn new(child: Child, what: impl Into<String>) -> ChildGuard {
        ChildGuard {
            child: Some(child),
            what: what.into(),
        }
    }

    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the child was already reaped")
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            None => true,
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
        }
    }

    pub fn take(&mut self) -> Option<Child> {
        self.child.take()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if std::thread::panicking() && !matches!(child.try_wait(), Ok(Some(_))) {
                eprintln!("harness: killing {} (pid {})", self.what, child.id());
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A controller process with its own temporary directory, data directory and CLI config.
pub struct Controller {
    process: Option<ChildGuard>,
    /// The API's URL, e.g. `http://127.0.0.1:45053`.
    pub url: String,
    pub data_dir: PathBuf,
    /// The CLI config file (`WEFT_CONFIG`) of this test.
    pub config: PathBuf,
    extra_args: Vec<String>,
    starts: u32,
    // Last: dropped after the process is gone.
    dir: tempfile::TempDir,
}

impl Controller {
    /// Starts a controller in a new temporary directory.
    pub fn start() -> Controller {
        Controller::start_with(&[])
    }

    /// Starts a controller with extra flags, e.g. `["--gc-grace", "0s"]`.
    pub fn start_with(extra: &[&str]) -> Controller {
        let dir = tempfile::Builder::new()
            .prefix("weft-cli-test-")
            .tempdir()
            .expect("creating a temporary directory");
        let mut c = Controller {
            process: None,
            url: String::new(),
            data_dir: dir.path().join("data"),
            config: dir.path().join("weft-config.yaml"),
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            starts: 0,
            dir,
        };
        c.spawn();
        c
    }

    /// The test's temporary directory (for manifests and other files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the test's temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the test's temporary directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    fn log_path(&self) -> PathBuf {
        self.path(&format!("controller-{}.log", self.starts))
    }

    /// The controller's log (stderr) of its current or last run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.process.as_ref().map(ChildGuard::id).unwrap_or(0)
    }

    /// Whether a controller process is running.
    pub fn running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| !p.exited())
    }

    /// The `host:port` of the API.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    fn spawn(&mut self) {
        assert!(self.process.is_none(), "a controller is already running");
        self.starts += 1;
        let ready = self.path("ready");
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::File::create(self.log_path()).expect("creating the controller log");
        let mut cmd = Command::new(WEFT);
        cmd.arg("controller")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--ready-file")
            .arg(&ready)
            .args(&self.extra_args)
            .env("HOME", self.dir.path())
            .env("WEFT_CONFIG", &self.config)
            .env_remove("WEFT_SERVER")
            .env_remove("WEFT_DATA_DIR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd.spawn().expect("spawning weft controller");
        let mut guard = ChildGuard::new(child, "weft controller");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready)
                && text.ends_with('\n')
            {
                self.url = text.trim().to_string();
                break;
            }
            if let Ok(Some(status)) = guard.child().try_wait() {
                panic!(
                    "weft controller exited before becoming ready ({status}); its log:\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                drop(guard);
                panic!(
                    "weft controller did not write its ready file {} within {READY_TIMEOUT:?}; its log:\n{}",
                    ready.display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            self.url.starts_with("http://127.0.0.1:"),
            "unexpected ready-file contents {:?}",
            self.url
        );
        self.process = Some(guard);
    }

    /// SIGKILL (`Child::kill`), and reap.
    pub fn kill_9(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// SIGTERM by PID and wait for the process to exit; panics (after killing it) when it has
    /// not exited within `timeout`. Returns the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut p = self.process.take().expect("no controller is running");
        let status = Command::new("kill")
            .args(["-TERM", &p.id().to_string()])
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", p.id());
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = p.child().try_wait() {
                p.take();
                return status;
            }
            if Instant::now() > deadline {
                p.kill();
                panic!(
                    "weft controller did not exit within {timeout:?} of SIGTERM; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the controller (SIGTERM, SIGKILL if it does not exit) and starts it again on the same
    /// data directory; `url` changes.
    pub fn restart(&mut self) {
        if self.process.is_some() {
            self.terminate(Duration::from_secs(10));
        }
        self.spawn();
    }

    /// Starts the controller again after `kill_9` or `terminate`.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// A `weft` command with `WEFT_CONFIG` and `HOME` in the temporary directory and no
    /// `--server`: it reaches whatever its config or flags say.
    pub fn weft_bare(&self) -> Command {
        let mut cmd = Command::new(WEFT);
        cmd.env("HOME", self.dir.path())
            .env("WEFT_CONFIG", &self.config)
            .env_remove("WEFT_SERVER")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// A `weft` command with `--server` pointing at this controller.
    pub fn weft_cmd(&self) -> Command {
        let mut cmd = self.weft_bare();
        cmd.arg("--server").arg(&self.url);
        cmd
    }

    /// Runs `weft --server URL ARGS...`.
    pub fn weft<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run(self.weft_cmd().args(args))
    }

    /// Runs `weft --server URL ARGS...` with `input` on standard input.
    pub fn weft_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &str) -> Output {
        run_with_stdin(self.weft_cmd().args(args), input)
    }

    /// `weft ARGS...` that must succeed; returns its standard output.
    #[track_caller]
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.weft(args);
        expect_ok(&out, &describe(args))
    }

    /// `weft ARGS...` that must fail with `code`; returns its standard error.
    #[track_caller]
    pub fn fails<S: AsRef<OsStr>>(&self, code: i32, args: &[S]) -> String {
        let out = self.weft(args);
        expect_code(&out, code, &describe(args))
    }

    /// `weft apply -f -` of a manifest given as text, which must succeed.
    #[track_caller]
    pub fn apply_text(&self, manifest: &str) -> String {
        let out = self.weft_stdin(&["apply", "-f", "-"], manifest);
        expect_ok(&out, "apply -f - (stdin)")
    }

    /// The JSON output of `weft ARGS... -o json`.
    #[track_caller]
    pub fn json<S: AsRef<OsStr>>(&self, args: &[S]) -> serde_json::Value {
        let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
        all.extend([OsStr::new("-o"), OsStr::new("json")]);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("`weft {}` is not JSON: {e}\n{text}", describe(&all)))
    }
}

fn describe<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion (with a generous deadline, so a hung CLI fails the test rather
/// than hanging it).
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawning weft");
    wait_output(child, format!("{cmd:?}"))
}

pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning weft");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("writing weft's stdin");
    drop(stdin);
    wait_output(child, format!("{cmd:?}"))
}

/// How long one CLI command may take before the test gives up on it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

fn wait_output(mut child: Child, what: String) -> Output {
    fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    }
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for weft") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code of a finished command; -1 when a signal ended it.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Panics, showing both streams, unless the command exited 0; returns stdout.
#[track_caller]
pub fn expect_ok(out: &Output, what: &str) -> String {
    expect_code(out, 0, what);
    stdout(out)
}

/// Panics, showing both streams, unless the command exited with `expected`; returns stderr.
#[track_caller]
pub fn expect_code(out: &Output, expected: i32, what: &str) -> String {
    let got = code(out);
    assert_eq!(
        got,
        expected,
        "`weft {what}` exited {got}, expected {expected}\n--- stdout ---\n{}--- stderr ---\n{}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

/// Panics unless `haystack` contains `needle`, showing both.
#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "expected to find {needle:?} in:\n{haystack}");
}

#[track_caller]
pub fn assert_not_contains(haystack: &str, needle: &str) {
    assert!(
        !haystack.contains(needle),
        "expected not to find {needle:?} in:\n{haystack}"
    );
}

/// A loopback port nobody listens on (bound, then released).
pub fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local address").port()
}

/// Polls `f` every 10 ms until it returns `Some`, or panics with `what` after `timeout`.
#[track_caller]
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
