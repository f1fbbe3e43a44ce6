//! The two sides of a change: `--base` (default: the remote's default branch, never the
//! branch's upstream) and `--head` resolved to commits, with their merge base (GitHub's
//! three-dot diff).

use crate::error::{Error, Result};
use crate::git::Repo;

/// Where the default base is looked for, in order, for messages.
pub const DEFAULT_BRANCH_REFS: &str = "origin/HEAD, origin/main, origin/master, main, master";

/// The base as named, and the base, head and merge-base commits.
#[derive(Debug, Clone)]
pub struct Range {
    pub base_name: String,
    pub base: git2::Oid,
    pub head: git2::Oid,
    pub merge_base: git2::Oid,
    /// Said when the base was not given: what the change was measured against.
    pub defaulted: Option<String>,
}

/// Resolves `base` (default: the remote's default branch) and `head`, and their merge base.
pub fn resolve(repo: &Repo, base: Option<&str>, head: &str) -> Result<Range> {
    let defaulted = base.is_none();
    let base_name = match base {
        Some(base) => base.to_string(),
        None => repo.default_base().map(|d| d.rev).ok_or_else(|| {
            Error::usage(format!("no base revision: found no default branch to compare with (none of {DEFAULT_BRANCH_REFS} exists)\n  help: pass --base REF (or set PROMPTGATE_BASE), e.g. --base origin/develop; or record the remote's default branch with `git remote set-head origin --auto`"))
        })?,
    };
    let base = repo.resolve(&base_name)?;
    let head_oid = repo.resolve(head)?;
    let merge_base = repo.merge_base(base, head_oid, (&base_name, head))?;
    let defaulted = defaulted.then(|| {
        let empty = if merge_base == head_oid {
            format!(" ({head} is already part of it, so the change is empty)")
        } else {
            String::new()
        };
        format!("comparing with {base_name}, the default branch{empty}; pass --base to compare with another revision")
    });
    Ok(Range {
        base_name,
        base,
        head: head_oid,
        merge_base,
        defaulted,
    })
}
