//! A Prism mock of the GitHub REST API for contract tests: `prism mock --errors` serving
//! `fixtures/github/openapi.json` (GitHub's official description trimmed to the operations
//! promptgate calls, see `tests/github/trim-openapi.mjs`) on 127.0.0.1 at a free port. Prism
//! answers requests that violate the description with a 4xx (422 or 400) and logs every
//! request and violation, which `Prism::log` returns. Prism comes from
//! `tests/github/node_modules` (`npm ci --prefix tests/github`, which the CI script runs); when
//! it is missing the test fails, it is never skipped. Dropping the `Prism` kills its process
//! group.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Prism may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Fresh ports to try when another process takes the chosen one before Prism binds it.
const PORT_ATTEMPTS: usize = 5;

/// A running `prism mock` process; dropping it kills the process and its children.
pub struct Prism {
    child: Child,
    port: u16,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prism {
    /// Starts `prism mock --errors` (request validation errors become 4xx answers) on
    /// 127.0.0.1 at a free port, serving fixtures/github/openapi.json, and waits until it
    /// answers HTTP (up to 60 s). Panics with Prism's output if it does not start, and with
    /// the install command if `tests/github/node_modules/.bin/prism` is missing.
    pub fn start() -> Prism {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Prism::serving(&root.join("fixtures/github/openapi.json"))
    }

    /// Like [`Prism::start`], serving the description at `spec` (e.g. a copy whose examples
    /// a test adjusted).
    pub fn serving(spec: &Path) -> Prism {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bin = root.join("tests/github/node_modules/.bin/prism");
        assert!(
            bin.exists(),
            "Prism is not installed at {}: run `npm ci --prefix tests/github` (the CI script does)",
            bin.display()
        );
        assert!(spec.exists(), "missing {}", spec.display());

        for attempt in 1..=PORT_ATTEMPTS {
            let mut prism = Prism::spawn(&bin, spec, free_port());
            match prism.wait_ready() {
                Ok(()) => return prism,
                Err(why) => {
                    let log = prism.log();
                    drop(prism);
                    if log.contains("EADDRINUSE") && attempt < PORT_ATTEMPTS {
                        continue;
                    }
                    panic!("Prism did not start: {why}\n--- Prism output ---\n{log}");
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What Prism printed so far (stdout and stderr interleaved): one block per request with
    /// the negotiation and any validation violation.
    pub fn log(&self) -> String {
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn spawn(bin: &Path, spec: &Path, port: u16) -> Prism {
        let dir = tempfile::tempdir().expect("tempdir for the Prism log");
        let log_path = dir.path().join("prism.log");
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("open the Prism log")
        };
        let port_arg = port.to_string();
        let child = Command::new(bin)
            .args(["mock", "--errors", "-h", "127.0.0.1", "-p", &port_arg])
            .arg(spec)
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .stdin(Stdio::null())
            .stdout(open_log())
            .stderr(open_log())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): is Node.js installed? run `npm ci --prefix tests/github` (the CI script does)",
                    bin.display()
                )
            });
        Prism {
            child,
            port,
            log_path,
            _dir: dir,
        }
    }

    /// Polls until a TCP connection succeeds and a GET gets any HTTP response back.
    fn wait_ready(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("prism exited with {status}"));
            }
            if http_answers(&addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no HTTP answer on {addr} within {}s",
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        // The child leads its own process group (process_group(0)): kill the whole group.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: plain kill(2) on the process group this struct created.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (Prism binds it right after; `start` retries on a race).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// True when `GET /` on `addr` gets an HTTP response (any status: Prism answers 404 there).
fn http_answers(addr: &SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    head.starts_with(b"HTTP/1.")
}
