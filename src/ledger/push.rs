//! Sharing the ledger: `record --push` fetches the remote's ledger, takes it as the base,
//! adds back every line of the local ledger it lacks (the union of lines: no entry is ever
//! lost, whoever wrote it) and pushes; when another recorder pushed in between, the push is
//! refused and the whole round is taken again, up to a bound. Readers fetch the same way
//! (the remote's ledger plus every local line), without pushing. Fetch and push run the `git`
//! command, so they reach whatever remote the clone reaches (HTTPS with the runner's
//! credentials in Actions, SSH, a path).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use git2::Oid;

use super::{LedgerError, NOTES_REF};

/// Where a fetched remote ledger is kept while it is merged.
const REMOTE_COPY: &str = "refs/notes/promptgate-remote";

/// Rounds of fetch, merge and push before giving up.
const ATTEMPTS: u32 = 12;

/// Why the ledger could not be shared.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("cannot push the ledger to `{remote}` after {attempts} attempt(s): {reason}\n  help: check that the remote accepts pushes to {NOTES_REF} (in Actions: `permissions: contents: write`), then run `promptgate record --push` again; the entries are kept locally meanwhile")]
    Refused {
        remote: String,
        attempts: u32,
        reason: String,
    },
    #[error("cannot fetch the ledger from `{remote}`: {reason}\n  help: check that the remote is reachable (in Actions: actions/checkout with `fetch-depth: 0`), or pass --no-fetch to read the local ledger only")]
    Fetch { remote: String, reason: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(
        "cannot run git to share the ledger: {0}\n  help: install git, or record without --push"
    )]
    NoGit(std::io::Error),
}

impl From<PushError> for crate::error::Error {
    fn from(error: PushError) -> Self {
        crate::error::Error::Ledger(Box::new(error))
    }
}

/// Where git runs for `repo`: its working tree, else (bare) its git directory.
fn git_dir(repo: &crate::git::Repo) -> &Path {
    repo.workdir().unwrap_or_else(|| repo.raw().path())
}

/// Fetches, merges and pushes the ledger until the push lands; returns the attempts taken.
pub fn push(repo: &crate::git::Repo, remote: &str) -> Result<u32, PushError> {
    let dir = git_dir(repo);
    let repo = repo.raw();
    let mut reason = String::new();
    for attempt in 1..=ATTEMPTS {
        // A remote without a ledger yet has nothing to merge.
        fetch(repo, dir, remote)?;
        let (pushed, stderr) = git(
            dir,
            &["push", "-q", remote, &format!("{NOTES_REF}:{NOTES_REF}")],
        )?;
        if pushed {
            return Ok(attempt);
        }
        reason = stderr.trim().to_string();
        // Someone else pushed first: wait a little (longer each time, staggered) and redo.
        let jitter = u64::from(std::process::id() % 7) * 15;
        std::thread::sleep(Duration::from_millis(40 * u64::from(attempt) + jitter));
    }
    Err(PushError::Refused {
        remote: remote.to_string(),
        attempts: ATTEMPTS,
        reason,
    })
}

/// [`fetch`] from `remote` when the clone has it (`false` when it has not, or the remote has
/// no ledger yet).
pub fn fetch_if_remote(repo: &crate::git::Repo, remote: &str) -> Result<bool, PushError> {
    if repo.remote_url(remote).is_none() {
        return Ok(false);
    }
    fetch(repo.raw(), git_dir(repo), remote)
}

/// Brings the remote's ledger in for a reader: the local ledger becomes the remote's plus
/// every local line it lacks. `false` when the remote has no ledger yet.
pub fn fetch(repo: &git2::Repository, dir: &Path, remote: &str) -> Result<bool, PushError> {
    let (fetched, stderr) = git(
        dir,
        &[
            "fetch",
            "-q",
            remote,
            &format!("+{NOTES_REF}:{REMOTE_COPY}"),
        ],
    )?;
    if !fetched {
        if stderr.contains("couldn't find remote ref") {
            return Ok(false);
        }
        return Err(PushError::Fetch {
            remote: remote.to_string(),
            reason: stderr.trim().to_string(),
        });
    }
    let tip = repo
        .refname_to_id(REMOTE_COPY)
        .map_err(|source| LedgerError::Git {
            action: "read the fetched",
            commit: REMOTE_COPY.to_string(),
            source,
        })?;
    merge_onto(repo, tip)?;
    Ok(true)
}

/// Makes the local ledger the remote's (`tip`) plus every local line it lacks.
fn merge_onto(repo: &git2::Repository, tip: Oid) -> Result<(), LedgerError> {
    let local = notes(repo, NOTES_REF)?;
    let theirs = notes(repo, REMOTE_COPY)?;
    let fail = |action, source| LedgerError::Git {
        action,
        commit: tip.to_string(),
        source,
    };
    repo.reference(NOTES_REF, tip, true, "promptgate: take the remote ledger")
        .map_err(|e| fail("update", e))?;
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("promptgate", "promptgate@localhost"))
        .map_err(|e| fail("sign", e))?;
    for (commit, text) in local {
        let base = theirs.get(&commit).cloned().unwrap_or_default();
        let merged = union(&base, &text);
        if merged != base {
            repo.note(
                &signature,
                &signature,
                Some(NOTES_REF),
                commit,
                &merged,
                true,
            )
            .map_err(|e| fail("write", e))?;
        }
    }
    Ok(())
}

/// `base`'s lines, then each line of `ours` that `base` lacks, in order.
fn union(base: &str, ours: &str) -> String {
    let mut text = base.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let have: std::collections::HashSet<&str> = base.lines().collect();
    for line in ours.lines().filter(|l| !l.trim().is_empty()) {
        if !have.contains(line) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Every note under `reference`: annotated commit → text.
fn notes(repo: &git2::Repository, reference: &str) -> Result<BTreeMap<Oid, String>, LedgerError> {
    let fail = |source| LedgerError::Git {
        action: "list",
        commit: reference.to_string(),
        source,
    };
    let mut all = BTreeMap::new();
    let iter = match repo.notes(Some(reference)) {
        Ok(iter) => iter,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(all),
        Err(e) => return Err(fail(e)),
    };
    for item in iter {
        let (_, commit) = item.map_err(fail)?;
        let note = repo.find_note(Some(reference), commit).map_err(fail)?;
        all.insert(commit, note.message().unwrap_or_default().to_string());
    }
    Ok(all)
}

/// Runs git in `dir`: whether it succeeded, and its stderr.
fn git(dir: &Path, args: &[&str]) -> Result<(bool, String), PushError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(PushError::NoGit)?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_union_keeps_every_line_once_in_order() {
        assert_eq!(union("", "a\nb\n"), "a\nb\n");
        assert_eq!(union("a\nb", "b\nc\n\n"), "a\nb\nc\n");
        assert_eq!(union("a\n", "a\n"), "a\n");
    }
}
