//! The gate's response cache: where it is, and which of its entries may be read. An entry
//! git tracks on either side is never read (a pull request can commit files there), and a
//! cache reached through a symbolic link is neither read nor written.

use std::path::Path;

use super::CheckRequest;
use crate::error::{Error, Result};
use crate::eval::cache::Cache;
use crate::gate::Context;
use crate::git::{Snapshot, TreeSnapshot};

/// The cache a run uses, and the private directory behind it when the shared one could
/// not be trusted (removed when the run ends).
pub(super) struct ResponseCache {
    pub cache: Cache,
    pub private: Option<tempfile::TempDir>,
}

impl ResponseCache {
    fn shared(cache: Cache) -> Self {
        ResponseCache {
            cache,
            private: None,
        }
    }
}

/// The response cache, never reading an entry that git tracks on either side: a pull
/// request can commit files there, and a cached answer must be one promptgate received.
pub(super) fn response_cache(
    request: &CheckRequest,
    root: &Path,
    commits: [&TreeSnapshot<'_>; 2],
    context: &mut Context,
) -> Result<ResponseCache> {
    // Relative to the checkout when the request left it so (the command line makes its
    // flag absolute first), so the checks below see whether it lies in the checkout.
    let dir = match &request.cache_dir {
        Some(dir) => root.join(dir),
        None => root.join(crate::eval::cache::DEFAULT_DIR),
    };
    // A cache reached through a symlink is wherever the link points: a pull request can
    // commit such a link next to answers of its own, so nothing there is read.
    let through_link = dir
        .strip_prefix(root)
        .ok()
        .map(|relative| {
            relative.ancestors().any(|part| {
                !part.as_os_str().is_empty()
                    && std::fs::symlink_metadata(root.join(part))
                        .is_ok_and(|m| m.file_type().is_symlink())
            })
        })
        .unwrap_or(false);
    if through_link {
        context.notes.push(format!(
            "the response cache {} is reached through a symbolic link, which a pull request can commit: no cached answer was read or written there",
            dir.display()
        ));
        // Nor is anything written through the link: fresh answers go to a private place.
        let private =
            tempfile::tempdir().map_err(|e| Error::io("create", "a private response cache", e))?;
        return Ok(ResponseCache {
            cache: Cache::new(private.path(), false),
            private: Some(private),
        });
    }
    let cache = Cache::new(&dir, request.read_cache);
    let Some(relative) = dir
        .strip_prefix(root)
        .ok()
        .and_then(|p| p.to_str())
        .map(|p| p.replace('\\', "/"))
    else {
        return Ok(ResponseCache::shared(cache));
    };
    let mut tracked = std::collections::HashSet::new();
    for commit in commits {
        commit.walk(&relative, &mut |path, _| {
            tracked.insert(root.join(path));
        })?;
    }
    if tracked.is_empty() {
        return Ok(ResponseCache::shared(cache));
    }
    context.notes.push(format!(
        "{} file(s) under {relative} are tracked by git: a pull request can write them, so they were not read as cached answers (add `{relative}` to .gitignore and `git rm -r --cached {relative}`)",
        tracked.len()
    ));
    Ok(ResponseCache::shared(cache.distrusting(tracked)))
}
