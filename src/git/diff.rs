//! The raw change list between two trees (or a tree and the index), with renames found by
//! content similarity as `git diff -M` does (50% threshold), with no limit on how many
//! files may be compared, so bulk moves of hundreds of files stay renames.

use git2::{Delta, Diff, DiffFindOptions, DiffOptions, Oid, Repository};
use serde::Serialize;

use super::snapshot::EntryKind;
use super::GitError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// One side of a changed file: its blob and what kind of entry it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSide {
    pub oid: Oid,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub status: Status,
    /// The path on the new side (the old path for deletions).
    pub path: String,
    /// The path on the old side, for renames.
    pub old_path: Option<String>,
    /// Content similarity of a rename, in percent.
    pub similarity: Option<u16>,
    pub old: Option<FileSide>,
    pub new: Option<FileSide>,
}

/// Rename detection as `git diff -M`: 50% similar or more.
const RENAME_THRESHOLD: u16 = 50;

pub(super) fn commits(repo: &Repository, old: Oid, new: Oid) -> Result<Vec<FileChange>, GitError> {
    let tree = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| GitError::git(format!("cannot read the tree of {}", super::short(oid)), e))
    };
    let (old_tree, new_tree) = (tree(old)?, tree(new)?);
    let diff = repo
        .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), Some(&mut options()))
        .map_err(|e| GitError::git("cannot diff the two revisions", e))?;
    collect(diff)
}

pub(super) fn staged(repo: &Repository, head: Option<Oid>) -> Result<Vec<FileChange>, GitError> {
    let head_tree = match head {
        Some(oid) => Some(
            repo.find_commit(oid)
                .and_then(|c| c.tree())
                .map_err(|e| GitError::git("cannot read the tree of HEAD", e))?,
        ),
        None => None,
    };
    let index = repo
        .index()
        .map_err(|e| GitError::git("cannot read the index", e))?;
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut options()))
        .map_err(|e| GitError::git("cannot diff the index against HEAD", e))?;
    collect(diff)
}

fn options() -> DiffOptions {
    let mut options = DiffOptions::new();
    options.ignore_submodules(false).include_typechange(false);
    options
}

fn collect(mut diff: Diff<'_>) -> Result<Vec<FileChange>, GitError> {
    let mut find = DiffFindOptions::new();
    find.renames(true)
        .rename_threshold(RENAME_THRESHOLD)
        .rename_limit(usize::MAX >> 1);
    diff.find_similar(Some(&mut find))
        .map_err(|e| GitError::git("cannot detect renames", e))?;
    let mut changes = Vec::with_capacity(diff.deltas().len());
    for delta in diff.deltas() {
        let status = match delta.status() {
            Delta::Added | Delta::Copied | Delta::Untracked => Status::Added,
            Delta::Deleted => Status::Deleted,
            Delta::Modified | Delta::Typechange => Status::Modified,
            Delta::Renamed => Status::Renamed,
            _ => continue,
        };
        let side = |file: git2::DiffFile<'_>| {
            let kind = match file.mode() {
                git2::FileMode::Link => EntryKind::Symlink,
                git2::FileMode::Commit => EntryKind::Submodule,
                _ => EntryKind::File,
            };
            file.exists().then(|| FileSide {
                oid: file.id(),
                kind,
            })
        };
        let path_of = |file: git2::DiffFile<'_>| {
            file.path_bytes()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default()
        };
        let old_path = path_of(delta.old_file());
        let new_path = path_of(delta.new_file());
        let (path, old_path) = match status {
            Status::Deleted => (old_path, None),
            Status::Renamed => (new_path, Some(old_path)),
            _ => (new_path, None),
        };
        let (old, new) = (side(delta.old_file()), side(delta.new_file()));
        // git2 does not expose libgit2's similarity score: identical blobs are 100%, and
        // edited renames get theirs from the text diff when the change set is built.
        let identical = matches!((&old, &new), (Some(o), Some(n)) if o.oid == n.oid);
        changes.push(FileChange {
            status,
            path,
            old_path,
            similarity: (status == Status::Renamed && identical).then_some(100),
            old,
            new,
        });
    }
    Ok(changes)
}
