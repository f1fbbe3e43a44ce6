//! What the benchmarks share: running git in a scratch repository with a fixed identity
//! and no user or system config.

use std::path::Path;
use std::process::Command;

/// Runs git in `dir`; panics (the benchmark cannot go on) when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?} failed");
}
