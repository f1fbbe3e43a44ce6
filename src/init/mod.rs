//! `promptgate init`: a commented `promptgate.toml` and an example surface (a prompt that
//! includes a shared partial, and its cases) that `promptgate validate` accepts as written,
//! and the `.gitignore` line that keeps the response cache out of commits (change records
//! under `.promptgate/changes/` stay tracked).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files `init` writes: repo-relative path and content.
pub const FILES: &[(&str, &str)] = &[
    ("promptgate.toml", include_str!("promptgate.toml")),
    ("prompts/support/answer.md", include_str!("answer.md")),
    ("prompts/shared/tone.md", include_str!("tone.md")),
    ("evals/support.yaml", include_str!("support.yaml")),
];

/// Writes the starter files under `dir`; refuses to overwrite any existing file unless
/// `force`, and then writes none of them.
pub fn write(dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let targets: Vec<(PathBuf, &str)> = FILES
        .iter()
        .map(|(path, text)| (dir.join(path), *text))
        .collect();
    if !force {
        if let Some((existing, _)) = targets.iter().find(|(path, _)| path.exists()) {
            return Err(Error::usage(format!(
                "{}: already exists; promptgate init does not overwrite files\n  help: pass --force to overwrite the starter files, or --dir to write them elsewhere",
                existing.display()
            )));
        }
    }
    let mut written = Vec::new();
    for (path, text) in targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
        written.push(path);
    }
    if let Some(path) = ignore_cache(dir)? {
        written.push(path);
    }
    Ok(written)
}

/// The `.gitignore` line for the response cache.
pub const CACHE_IGNORE: &str = ".promptgate/cache/";

/// Adds [`CACHE_IGNORE`] to `dir/.gitignore` (created if needed) unless a line already
/// ignores the cache; returns the file when it was written.
fn ignore_cache(dir: &Path) -> Result<Option<PathBuf>> {
    let path = dir.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let covered = existing.lines().map(str::trim).any(|line| {
        matches!(
            line,
            ".promptgate/cache/"
                | ".promptgate/cache"
                | "/.promptgate/cache/"
                | "/.promptgate/cache"
                | ".promptgate/"
                | ".promptgate"
                | "/.promptgate/"
        )
    });
    if covered {
        return Ok(None);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "# promptgate's response cache (change records in .promptgate/changes/ are committed)\n",
    );
    text.push_str(CACHE_IGNORE);
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
    Ok(Some(path))
}
