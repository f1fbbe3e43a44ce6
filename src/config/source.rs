//! Where a config's text comes from: `--config-rev` (the config path at a revision), an
//! explicit `--config` file on disk, or the default path in a snapshot (a revision, the
//! index or the working tree), with the name diagnostics give it (`promptgate.toml@HEAD`).
//! A missing config is an `invalid` error that says how to write one.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::git::{FileEntry, Repo, Snapshot};

/// A config's text and how diagnostics name it.
#[derive(Debug, Clone)]
pub struct ConfigText {
    /// The name in diagnostics: the path, with `@rev` when not from the working tree.
    pub origin: String,
    /// Repo-relative path, to recognise the config among changed files.
    pub repo_path: String,
    pub bytes: Vec<u8>,
}

/// The config's path in the repository: `given` (a `--config` path) made repository-relative
/// (as written when it is not inside the repository), else `promptgate.toml` at the root.
pub fn repo_path(repo: &Repo, given: Option<&Path>) -> String {
    given
        .and_then(|p| {
            repo.relative_path(p)
                .or_else(|| p.to_str().map(String::from))
        })
        .unwrap_or_else(|| super::DEFAULT_PATH.to_string())
}

/// Finds the config: with `config_rev`, `repo_path` at that revision; otherwise a `given`
/// file is read from disk, and `repo_path` from `fallback` (the head side for `diff`, the
/// working tree for `validate`, the evaluated revision for `eval`).
pub fn read(
    repo: &Repo,
    given: Option<&Path>,
    repo_path: String,
    config_rev: Option<&str>,
    fallback: &dyn Snapshot,
) -> Result<ConfigText> {
    if let Some(rev) = config_rev {
        let snapshot = repo.tree_snapshot(repo.resolve(rev)?)?;
        return from_snapshot(&snapshot, repo_path, &format!("`{rev}`"));
    }
    if let Some(path) = given {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read the config", path, e))?;
        return Ok(ConfigText {
            origin: path.display().to_string(),
            repo_path,
            bytes,
        });
    }
    from_snapshot(fallback, repo_path, &fallback.describe())
}

/// `repo_path` in `snapshot`; `label` names the snapshot in the error when it is missing.
pub fn from_snapshot(
    snapshot: &dyn Snapshot,
    repo_path: String,
    label: &str,
) -> Result<ConfigText> {
    match snapshot.read(&repo_path)? {
        Some(FileEntry::File(bytes)) => {
            let origin = match snapshot.describe().as_str() {
                "the working tree" => repo_path.clone(),
                "the index" => format!("{repo_path}@index"),
                revision => format!("{repo_path}@{revision}"),
            };
            Ok(ConfigText {
                origin,
                repo_path,
                bytes,
            })
        }
        _ => Err(Error::invalid(
            Diagnostic::error(&repo_path, format!("no config file in {label}"))
                .with_help("run `promptgate init` to write one (and commit it), or point --config / --config-rev at it"),
        )),
    }
}
