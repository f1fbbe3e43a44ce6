//! Test builder: real git repositories in temp dirs, driven with the real `git`, and the
//! real `promptgate` binary run inside them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_promptgate");

/// A minimal config with one ungated surface per (name, glob) pair.
pub fn config(surfaces: &[(&str, &str)]) -> String {
    surfaces
        .iter()
        .map(|(name, glob)| format!("[[surface]]\nname = \"{name}\"\nprompts = [\"{glob}\"]\ntier = \"self\"\ngate = false\n\n"))
        .collect()
}

pub struct TestRepo {
    pub dir: tempfile::TempDir,
}

impl TestRepo {
    /// An empty repository on branch `main`.
    pub fn new() -> Self {
        let repo = TestRepo {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git with a fixed identity and dates (so SHAs are reproducible); panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
        self
    }

    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.path().join(path)).expect("remove");
        self
    }

    /// Stages everything and commits; returns the new commit's SHA.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs git with both dates (author and committer) at `at`, Unix seconds; panics on
    /// failure.
    #[allow(dead_code)]
    pub fn git_at(&self, at: i64, args: &[&str]) {
        let date = format!("@{at} +0000");
        let status = git_command(self.path(), args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    }

    /// Stages everything and commits with both dates at `at` (Unix seconds); returns the SHA.
    #[allow(dead_code)]
    pub fn commit_at(&self, message: &str, at: i64) -> String {
        self.git(&["add", "-A"]);
        self.git_at(at, &["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs promptgate in the repository's root.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.path(), args)
    }

    /// `promptgate diff --format json` with extra args; asserts success, returns the JSON.
    pub fn diff_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["diff", "--format", "json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert_eq!(run.code, 0, "diff failed: {}", run.stderr);
        serde_json::from_str(&run.stdout).expect("diff JSON")
    }
}

/// A bare clone of `origin` in a new temporary directory (a remote to push to).
#[allow(dead_code)]
pub fn bare_clone(origin: &Path) -> PathBuf {
    let bare = tempdir();
    git_in(
        &bare,
        &["clone", "-q", "--bare", &origin.display().to_string(), "."],
    );
    bare
}

/// Now, in Unix seconds.
#[allow(dead_code)]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Runs git like [`git_in`] but returns whether it succeeded instead of asserting it.
pub fn git_succeeds(dir: &Path, args: &[&str]) -> bool {
    git_command(dir, args)
        .output()
        .expect("run git")
        .status
        .success()
}

/// git in `dir` with a fixed identity and dates, and no system or user config.
pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    command
}

/// A `--depth 1` clone of `origin`'s `branch` in a new temp dir.
pub fn shallow_clone(origin: &Path, branch: &str) -> PathBuf {
    let clone = tempdir();
    let url = format!("file://{}", origin.display());
    git_in(
        &clone,
        &["clone", "-q", "--depth", "1", "--branch", branch, &url, "."],
    );
    clone
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir, args).output().expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A finished promptgate run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_with_env(dir, args, &[])
}

/// Runs promptgate with extra environment variables.
pub fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    // Nothing from the machine running the tests (a CI runner sets GITHUB_*) leaks in.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if ["PROMPTGATE_", "GITHUB_", "RUNNER_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || ["NO_COLOR", "CLICOLOR_FORCE", "GH_TOKEN"].contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    let output: Output = command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .envs(env.iter().copied())
        .output()
        .expect("run promptgate");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The `changes` array of a diff JSON.
pub fn changes(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["changes"].as_array().expect("changes")
}

/// Finds a change by path.
pub fn change<'a>(json: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    changes(json)
        .iter()
        .find(|c| c["path"] == path)
        .unwrap_or_else(|| panic!("no change for {path} in {json:#}"))
}

pub fn tempdir() -> PathBuf {
    tempfile::tempdir().expect("tempdir").keep()
}

/// Asserts that `haystack` contains `needle`, showing the whole haystack when not.
#[track_caller]
pub fn assert_contains(haystack: &str, needle: impl AsRef<str>) {
    let needle = needle.as_ref();
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}
