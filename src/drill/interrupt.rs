//! Interrupting a drill: Ctrl-C (and, on Unix, SIGTERM) is noted, never acted on by ending
//! the process here: the drill stops its `drill_command` through the child's handle, its
//! worktree guard removes the worktree as the drill unwinds, and the caller hears
//! [`Interrupted`] and exits 130. The handlers are installed on the first drill worktree
//! and stay for the rest of the process.

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The drill was interrupted (Ctrl-C or SIGTERM); the caller exits 130.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the drill was interrupted")]
pub struct Interrupted;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long a stopped `drill_command` may take to exit before it is killed outright.
#[cfg(unix)]
const GRACE: Duration = Duration::from_secs(3);

/// Whether the drill has been interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once the drill has been interrupted.
pub fn check() -> Result<(), Interrupted> {
    if interrupted() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// Resolves when the drill is interrupted: `select!` it against a long wait.
pub async fn until_interrupted() {
    while !interrupted() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Installs the handlers (once), returning when they are in place.
pub fn watch() {
    static WATCHER: std::sync::Once = std::sync::Once::new();
    WATCHER.call_once(|| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready_tx.send(());
                return;
            };
            runtime.block_on(signalled(ready_tx));
            INTERRUPTED.store(true, Ordering::SeqCst);
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(2));
    });
}

/// Waits for SIGINT or SIGTERM, saying on `ready` once both are watched.
#[cfg(unix)]
async fn signalled(ready: std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let _ = ready.send(());
    tokio::select! {
        () = received(interrupt.as_mut()) => {}
        () = received(terminate.as_mut()) => {}
    }
}

/// Resolves on the next delivery of a watched signal; never, for one that is not watched.
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Elsewhere Ctrl-C is the one interruption there is.
#[cfg(not(unix))]
async fn signalled(ready: std::sync::mpsc::Sender<()>) {
    let _ = ready.send(());
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Stops an interrupted `drill_command` and reaps it: on Unix SIGTERM first (so it can
/// clean up), then a kill if it is still running after a grace period; elsewhere a kill
/// (`TerminateProcess`).
pub fn stop(child: &mut Child) {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(child);
        if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok() {
            let asked = std::time::Instant::now();
            while asked.elapsed() < GRACE {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_command_is_asked_to_terminate_first() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap 'exit 3' TERM; sleep 30 & wait"])
            .spawn()
            .expect("spawn sh");
        // Let the shell install its trap.
        std::thread::sleep(Duration::from_millis(200));
        stop(&mut child);
        let status = child.try_wait().expect("wait").expect("reaped");
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_command_that_ignores_termination_is_killed() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 30"])
            .spawn()
            .expect("spawn sh");
        std::thread::sleep(Duration::from_millis(200));
        stop(&mut child);
        assert!(child.try_wait().expect("wait").is_some());
    }
}
