//! Running a local command for the `exec` provider and the `exec` grader: argv without a
//! shell, the input on stdin while stdout and stderr drain concurrently (so neither side
//! blocks on a full pipe), killed when it overruns its timeout or its caller goes away.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};

/// What a finished command left behind.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a command did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("`{program}` cannot start: {source}")]
    CannotStart {
        program: String,
        source: std::io::Error,
    },
    #[error("`{program}` timed out after {} ms and was killed", timeout.as_millis())]
    TimedOut { program: String, timeout: Duration },
    #[error("`{program}` failed: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
}

/// Runs `program args…` with `input` on stdin, under `timeout`, in `dir` (else the
/// current directory).
pub async fn run(
    program: &str,
    args: &[String],
    input: &[u8],
    timeout: Duration,
    dir: Option<&std::path::Path>,
) -> Result<Finished, Failure> {
    let mut command = Command::new(program);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
        .args(args)
        // Only what a command needs: never a provider key or a GitHub token.
        .env_clear()
        .envs(crate::secrets::command_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // If the caller drops this future (its own deadline, Ctrl-C), no process lingers.
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Failure::CannotStart {
            program: program.to_string(),
            source,
        })?;
    match tokio::time::timeout(timeout, collect(&mut child, input)).await {
        Ok(Ok(finished)) => Ok(finished),
        Ok(Err(source)) => Err(Failure::Io {
            program: program.to_string(),
            source,
        }),
        Err(_) => {
            // Already timing out: a kill that fails means the process is gone anyway.
            let _ = child.kill().await;
            Err(Failure::TimedOut {
                program: program.to_string(),
                timeout,
            })
        }
    }
}

async fn collect(child: &mut Child, input: &[u8]) -> std::io::Result<Finished> {
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (_, stdout, stderr, status) = tokio::join!(
        feed(stdin, input),
        drain(stdout),
        drain(stderr),
        child.wait()
    );
    Ok(Finished {
        status: status?,
        stdout: stdout?,
        stderr: stderr?,
    })
}

/// Writes the input and closes stdin. A command may exit without reading it all (e.g.
/// `grep -q`), so a broken pipe is not an error.
async fn feed(stdin: Option<ChildStdin>, input: &[u8]) {
    if let Some(mut pipe) = stdin {
        let _ = pipe.write_all(input).await;
    }
}

async fn drain(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}
