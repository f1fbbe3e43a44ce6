//! One way to read the project's files whatever they come from: a committed tree, the index,
//! or the working tree. Symlinks and submodules are reported as such and never followed.
//!
//! Reads stay inside the repository and are bounded: a path that is absolute, climbs out
//! with `..` or holds a NUL byte names no file of any snapshot; in the working tree no
//! symlink is followed (neither the file nor a directory on the way to it), special files
//! (devices, FIFOs, sockets) are never opened, and no file larger than [`MAX_FILE_BYTES`]
//! is read.

use std::io::Read;
use std::path::{Path, PathBuf};

use git2::{FileMode, ObjectType, Oid, Repository, Tree};

use super::index_file::IndexFile;
use super::GitError;

/// The most promptgate reads from one file (config, prompt, case file, cassette): 256 MiB.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Whether `path` can name a file inside the repository.
fn confined(path: &str) -> bool {
    crate::config::paths::outside_repository(path).is_none()
}

/// Whether `root` is the whole snapshot (`""`) or a directory path inside it.
fn confined_root(root: &str) -> bool {
    root.is_empty() || confined(root)
}

/// The error for a file over [`MAX_FILE_BYTES`].
fn too_large(path: &Path, size: u64) -> GitError {
    GitError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!(
            "it is {size} bytes, more than the {} MiB promptgate reads from one file; \
             split it, or keep large data out of prompts and cases",
            MAX_FILE_BYTES >> 20
        )),
    }
}

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

fn entry_from_blob(
    repo: &Repository,
    oid: Oid,
    kind: EntryKind,
    path: &Path,
) -> Result<FileEntry, GitError> {
    if kind == EntryKind::Submodule {
        return Ok(FileEntry::Submodule);
    }
    let cannot = |e| GitError::git(format!("cannot read blob {}", super::short(oid)), e);
    // The size from the object's header, before its content is loaded.
    let (size, _) = repo
        .odb()
        .and_then(|odb| odb.read_header(oid))
        .map_err(cannot)?;
    if size as u64 > MAX_FILE_BYTES {
        return Err(too_large(path, size as u64));
    }
    let blob = repo.find_blob(oid).map_err(cannot)?;
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
        if !confined(path) {
            return Ok(None);
        }
        let entry = match self.tree.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(GitError::git(format!("cannot look up {path}"), e)),
        };
        match kind_of_mode(entry.filemode()) {
            Some(kind) => entry_from_blob(self.repo, entry.id(), kind, Path::new(path)).map(Some),
            None => Ok(None),
        }
    }

    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        if !confined_root(root) {
            return Ok(());
        }
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
        if !confined(path) {
            return Ok(None);
        }
        let entries = &self.index.entries;
        let Some(i) = entries.find(path) else {
            return Ok(None);
        };
        match kind_of_mode(entries.mode(i) as i32) {
            Some(kind) => {
                entry_from_blob(self.repo, entries.oid(i), kind, Path::new(path)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        if !confined_root(root) {
            return Ok(());
        }
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

    /// Whether every directory on the way to `path` (its components but the last) is a
    /// real directory of the tree, not a symlink: git would see a link there, not a
    /// directory, and following it could leave the repository.
    fn parents_are_directories(&self, path: &str) -> Result<bool, GitError> {
        let components: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let mut dir = self.root.clone();
        for component in components.iter().take(components.len().saturating_sub(1)) {
            dir.push(component);
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_dir() => {}
                Ok(_) => return Ok(false),
                Err(e) if is_absent(&e) => return Ok(false),
                Err(e) => return Err(self.io(&dir, e)),
            }
        }
        Ok(true)
    }

    /// A regular file's bytes, at most [`MAX_FILE_BYTES`] of them.
    fn read_file(&self, full: &Path) -> Result<Vec<u8>, GitError> {
        let file = std::fs::File::open(full).map_err(|e| self.io(full, e))?;
        let size = file.metadata().map_err(|e| self.io(full, e))?.len();
        if size > MAX_FILE_BYTES {
            return Err(too_large(full, size));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io(full, e))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(full, bytes.len() as u64));
        }
        Ok(bytes)
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
        if !confined(path) || !self.parents_are_directories(path)? {
            return Ok(None);
        }
        let full = self.root.join(path);
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(meta) => meta,
            Err(e) if is_absent(&e) => return Ok(None),
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
        if !meta.is_file() {
            // A device, FIFO or socket: no file git could hold, and reading one may never end.
            return Ok(None);
        }
        self.read_file(&full)
            .map(|bytes| Some(FileEntry::File(bytes)))
    }

    fn walk(&self, root: &str, visit: &mut dyn FnMut(&str, EntryKind)) -> Result<(), GitError> {
        if !confined_root(root) {
            return Ok(());
        }
        let dir = self.root.join(root);
        let walkable = if root.is_empty() {
            dir.is_dir()
        } else {
            // A real directory, reached through real directories: never a symlink.
            self.parents_are_directories(root)?
                && std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_dir())
        };
        if !walkable {
            return Ok(());
        }
        self.walk_dir(&dir, root, visit)
    }
}

/// Whether an I/O error means there is no such file (also: a path component is a file).
fn is_absent(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, WorkTreeSnapshot) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("evals")).expect("mkdir");
        std::fs::write(dir.path().join("evals/a.jsonl"), "{}\n").expect("write");
        let snapshot = WorkTreeSnapshot::new(dir.path());
        (dir, snapshot)
    }

    fn walked(snapshot: &dyn Snapshot, root: &str) -> Vec<String> {
        let mut paths = Vec::new();
        snapshot
            .walk(root, &mut |path, _| paths.push(path.to_string()))
            .expect("walk");
        paths
    }

    #[test]
    fn paths_leaving_the_repository_name_no_file() {
        let (dir, snapshot) = tree();
        let outside = dir.path().join("evals/a.jsonl");
        for path in [
            outside.to_str().expect("utf-8"),
            "/etc/passwd",
            "../etc/passwd",
            "evals/../../etc/passwd",
            "evals/a\0.jsonl",
        ] {
            assert_eq!(snapshot.read(path).expect("read"), None, "{path:?}");
        }
        assert!(walked(&snapshot, "/etc").is_empty());
        assert!(walked(&snapshot, "..").is_empty());
        assert_eq!(walked(&snapshot, "evals"), vec!["evals/a.jsonl"]);
    }

    #[test]
    fn a_committed_tree_names_no_file_outside_it_either() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let blob = repo.blob(b"hello").expect("blob");
        let mut builder = repo.treebuilder(None).expect("treebuilder");
        builder.insert("a.md", blob, 0o100644).expect("insert");
        let tree = repo
            .find_tree(builder.write().expect("tree"))
            .expect("find");
        let snapshot = TreeSnapshot::new(&repo, tree, "abc1234".into());
        assert_eq!(
            snapshot.read("a.md").expect("read"),
            Some(FileEntry::File(b"hello".to_vec()))
        );
        for path in ["/a.md", "../a.md", "a\0.md", "/etc/passwd"] {
            assert_eq!(snapshot.read(path).expect("read"), None, "{path:?}");
        }
        assert!(walked(&snapshot, "/").is_empty());
        assert_eq!(walked(&snapshot, ""), vec!["a.md"]);
    }

    #[test]
    #[cfg(unix)]
    fn no_symlink_is_followed_on_the_way_to_a_file() {
        let (dir, snapshot) = tree();
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.md"), "secret").expect("write");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).expect("symlink");
        std::os::unix::fs::symlink("/dev", dir.path().join("dev")).expect("symlink");
        assert_eq!(snapshot.read("linked/secret.md").expect("read"), None);
        assert_eq!(snapshot.read("dev/null").expect("read"), None);
        assert!(walked(&snapshot, "linked").is_empty());
        assert!(walked(&snapshot, "dev").is_empty());
        // The link itself is reported as a link, never followed.
        assert!(matches!(
            snapshot.read("linked").expect("read"),
            Some(FileEntry::Symlink(_))
        ));
    }

    #[test]
    #[cfg(unix)]
    fn special_files_are_never_opened() {
        let (dir, snapshot) = tree();
        let fifo = dir.path().join("evals/fifo.jsonl");
        let c_path = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("c path");
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        // Opening a FIFO without a writer blocks forever: read on a thread, and fail (not
        // hang) if it never answers.
        let root = dir.path().to_path_buf();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let read = WorkTreeSnapshot::new(root).read("evals/fifo.jsonl");
            let _ = send.send(read.map_err(|e| e.to_string()));
        });
        let read = receive
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("reading a FIFO never ended");
        assert_eq!(read, Ok(None));
        assert_eq!(walked(&snapshot, "evals"), vec!["evals/a.jsonl"]);
    }

    #[test]
    fn a_file_over_the_size_bound_is_an_error_naming_it_and_the_bound() {
        let (dir, snapshot) = tree();
        let big = std::fs::File::create(dir.path().join("evals/big.jsonl")).expect("create");
        // Sparse: takes no disk space.
        big.set_len(MAX_FILE_BYTES + 1).expect("set_len");
        let error = snapshot
            .read("evals/big.jsonl")
            .expect_err("too large")
            .to_string();
        assert!(
            error.contains("evals/big.jsonl") && error.contains("more than the 256 MiB"),
            "{error}"
        );
        let at_bound = std::fs::File::create(dir.path().join("evals/edge.jsonl")).expect("create");
        at_bound.set_len(4096).expect("set_len");
        assert!(matches!(
            snapshot.read("evals/edge.jsonl").expect("read"),
            Some(FileEntry::File(bytes)) if bytes.len() == 4096
        ));
    }
}
