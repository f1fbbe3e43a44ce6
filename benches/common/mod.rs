//! What the benchmarks share: running git in a scratch repository with a fixed identity
//! and no user or system config, a child's peak memory from `wait4`, the best of N runs.

use std::path::Path;
use std::process::Command;

/// Runs git in `dir`; panics (the benchmark cannot go on) when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    git_with(dir, args, &[]);
}

/// Runs git in `dir` with both dates at `at` (Unix seconds).
#[allow(dead_code)]
pub fn git_at(dir: &Path, at: i64, args: &[&str]) {
    let date = format!("@{at} +0000");
    git_with(
        dir,
        args,
        &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
    );
}

fn git_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .envs(env.iter().copied())
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?} failed");
}

/// Waits for a child with `wait4`, which also reports its peak resident set (in KiB).
#[allow(dead_code)]
pub fn wait_with_rusage(pid: i32) -> (std::process::ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: plain libc call with valid pointers to locals; `pid` is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    (std::process::ExitStatus::from_raw(status), usage.ru_maxrss)
}

/// The smallest of `runs` measurements.
#[allow(dead_code)]
pub fn best_of(runs: usize, mut run: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| run()).fold(f64::MAX, f64::min)
}
