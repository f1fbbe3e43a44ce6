//! One way to read the project's files whatever they come from: a committed tree, the index,
//! or the working tree. Symlinks and submodules are reported as such and never followed.

use std::path::{Path, PathBuf};

use git2::{FileMode, ObjectType, Oid, Repository, Tree};

use super::index_file::IndexFile;
use super::GitError;

/// What kind of entry a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    File,
    Symlink,
    Submodule,
}

/// A path's content in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEntry {
    File(Vec<u8>),
    /// The link target; the link is not followed.
    Symlink(Vec<u8>),
    Submodule,
}

/// A set of files at one point: a commit, the index, or the working tree.
pub trait Snapshot {
    /// How messages name this snapshot: a short SHA, "the index", "the working tree".
    fn describe(&self) -> String;

    /// The entry at a repo-relative `/` path, or `None` when there is no such file.
    fn read(&self, path: &str) -> Result<Option<FileEntry>, GitError>;

    /// Visits every file, symlink and submodule under the directory `root` (`""`: all),
    /// with its repo-relative `/` path.
    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError>;

    /// The UTF-8 text of a regular file, `None` when absent or not a regular file.
    fn read_text(&self, path: &str) -> Result<Option<String>, GitError> {
        Ok(match self.read(path)? {
            Some(FileEntry::File(bytes)) => String::from_utf8(bytes).ok(),
            _ => None,
        })
    }
}

fn kind_of_mode(mode: i32) -> Option<EntryKind> {
    match mode {
        m if m == i32::from(FileMode::Link) => Some(EntryKind::Symlink),
        m if m == i32::from(FileMode::Commit) => Some(EntryKind::Submodule),
        m if m == i32::from(FileMode::Blob) || m == i32::from(FileMode::BlobExecutable) => {
            Some(EntryKind::File)
        }
        _ => None,
    }
}

fn entry_from_blob(repo: &Repository, oid: Oid, kind: EntryKind) -> Result<FileEntry, GitError> {
    if kind == EntryKind::Submodule {
        return Ok(FileEntry::Submodule);
    }
    let blob = repo
        .find_blob(oid)
        .map_err(|e| GitError::git(format!("cannot read blob {}", super::short(oid)), e))?;
    let bytes = blob.content().to_vec();
    Ok(match kind {
        EntryKind::Symlink => FileEntry::Symlink(bytes),
        _ => FileEntry::File(bytes),
    })
}

/// A committed tree.
pub struct TreeSnapshot<'r> {
    repo: &'r Repository,
    tree: Tree<'r>,
    label: String,
}

impl<'r> TreeSnapshot<'r> {
    pub(super) fn new(repo: &'r Repository, tree: Tree<'r>, label: String) -> Self {
        TreeSnapshot { repo, tree, label }
    }

    fn walk_tree(
        &self,
        tree: &Tree<'_>,
        prefix: &str,
        visit: &mut dyn FnMut(&str, EntryKind),
    ) -> Result<(), GitError> {
        for entry in tree.iter() {
            let name = String::from_utf8_lossy(entry.name_bytes());
            let path = if prefix.is_empty() {
                name.into_owned()
            } else {
                format!("{prefix}/{name}")
            };
            if entry.kind() == Some(ObjectType::Tree) {
                let subtree = self
                    .repo
                    .find_tree(entry.id())
                    .map_err(|e| GitError::git(format!("cannot read directory {path}"), e))?;
                self.walk_tree(&subtree, &path, visit)?;
            } else if let Some(kind) = kind_of_mode(entry.filemode()) {
                visit(&path, kind);
            }
        }
        Ok(())
    }
}

impl Snapshot for TreeSnapshot<'_> {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn read(&self, path: &str) -> Result<Option<FileEntry>, GitError> {
        let entry = match self.tree.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(GitError::git(format!("cannot look up {path}"), e)),
        };
        match kind_of_mode(entry.filemode()) {
            Some(kind) => entry_from_blob(self.repo, entry.id(), kind).map(Some),
            None => Ok(None),
        }
    }

    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        if root.is_empty() {
            return self.walk_tree(&self.tree, "", visit);
        }
        match self.tree.get_path(Path::new(root)) {
            Ok(entry) if entry.kind() == Some(ObjectType::Tree) => {
                let subtree = self
                    .repo
                    .find_tree(entry.id())
                    .map_err(|e| GitError::git(format!("cannot read directory {root}"), e))?;
                self.walk_tree(&subtree, root, visit)
            }
            _ => Ok(()),
        }
    }
}

/// The index: what `git commit` would record now. Read with promptgate's own index
/// reader when it applies (fast on large repositories), else through libgit2.
pub struct IndexSnapshot<'r> {
    repo: &'r Repository,
    index: IndexFile,
}

impl<'r> IndexSnapshot<'r> {
    pub(super) fn open(repo: &'r Repository) -> Result<Self, GitError> {
        let index = match IndexFile::read(repo) {
            Some(index) => index,
            None => IndexFile::from_libgit2(
                &repo
                    .index()
                    .map_err(|e| GitError::git("cannot read the index", e))?,
            ),
        };
        Ok(IndexSnapshot { repo, index })
    }

    /// The paths that differ between HEAD's tree and the index, found cheaply through the
    /// cache-tree; `None` when that cannot be told fast (then diff with libgit2).
    pub fn changed_paths(&self, head: Option<&Tree<'_>>) -> Option<Vec<String>> {
        self.index.changed_paths(self.repo, head)
    }
}

impl Snapshot for IndexSnapshot<'_> {
    fn describe(&self) -> String {
        "the index".into()
    }

    fn read(&self, path: &str) -> Result<Option<FileEntry>, GitError> {
        let entries = &self.index.entries;
        let Some(i) = entries.find(path) else {
            return Ok(None);
        };
        match kind_of_mode(entries.mode(i) as i32) {
            Some(kind) => entry_from_blob(self.repo, entries.oid(i), kind).map(Some),
            None => Ok(None),
        }
    }

    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        let prefix = if root.is_empty() {
            String::new()
        } else {
            format!("{root}/")
        };
        let entries = &self.index.entries;
        for i in entries.starting_with(0..entries.len(), &prefix) {
            if let Some(kind) = kind_of_mode(entries.mode(i) as i32) {
                visit(entries.path(i), kind);
            }
        }
        Ok(())
    }
}

/// The working tree on disk, as the user sees it.
pub struct WorkTreeSnapshot {
    root: PathBuf,
}

impl WorkTreeSnapshot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTreeSnapshot { root: root.into() }
    }

    fn io(&self, path: &Path, source: std::io::Error) -> GitError {
        GitError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn walk_dir(
        &self,
        dir: &Path,
        prefix: &str,
        visit: &mut dyn FnMut(&str, EntryKind),
    ) -> Result<(), GitError> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| self.io(dir, e))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && name == ".git" {
                continue;
            }
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_symlink() {
                visit(&path, EntryKind::Symlink);
            } else if file_type.is_dir() {
                if entry.path().join(".git").exists() {
                    visit(&path, EntryKind::Submodule);
                } else {
                    self.walk_dir(&entry.path(), &path, visit)?;
                }
            } else if file_type.is_file() {
                visit(&path, EntryKind::File);
            }
        }
        Ok(())
    }
}

impl Snapshot for WorkTreeSnapshot {
    fn describe(&self) -> String {
        "the working tree".into()
    }

    fn read(&self, path: &str) -> Result<Option<FileEntry>, GitError> {
        let full = self.root.join(path);
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&full, e)),
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full).map_err(|e| self.io(&full, e))?;
            return Ok(Some(FileEntry::Symlink(
                target.to_string_lossy().into_owned().into_bytes(),
            )));
        }
        if meta.is_dir() {
            return Ok(full.join(".git").exists().then_some(FileEntry::Submodule));
        }
        std::fs::read(&full)
            .map(|bytes| Some(FileEntry::File(bytes)))
            .map_err(|e| self.io(&full, e))
    }

    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        let dir = self.root.join(root);
        if !dir.is_dir() {
            return Ok(());
        }
        self.walk_dir(&dir, root, visit)
    }
}

/// No files at all: the old side of a repository without commits.
pub struct EmptySnapshot;

impl Snapshot for EmptySnapshot {
    fn describe(&self) -> String {
        "the empty tree".into()
    }

    fn read(&self, _path: &str) -> Result<Option<FileEntry>, GitError> {
        Ok(None)
    }

    fn walk(&self, _root: &str, _visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        Ok(())
    }
}
