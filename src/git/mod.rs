//! Repository access through libgit2: opening the repository, resolving revisions and the
//! merge base (with the shallow-clone diagnosis), reading files at a revision, in the index
//! or in the working tree ([`Snapshot`]), and the raw tree diff with rename detection.

mod diff;
mod index_file;
mod snapshot;

pub use diff::{FileChange, FileSide, Status};
pub use snapshot::{
    EmptySnapshot, EntryKind, FileEntry, IndexSnapshot, Snapshot, TreeSnapshot, WorkTreeSnapshot,
};

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository};

/// Why a git operation failed, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{} is not inside a git repository\n  help: run promptgate from a clone of your project (or `git init` one)", path.display())]
    NotARepository { path: PathBuf },

    #[error("unknown revision `{rev}`{}", if *shallow { SHALLOW_HELP } else { "\n  help: check the name, or fetch it first (`git fetch origin <ref>`)" })]
    UnknownRevision { rev: String, shallow: bool },

    #[error("no merge base between `{base}` and `{head}`{}", if *shallow { SHALLOW_HELP } else { "\n  help: the two revisions share no history; pick a --base that the head branched from" })]
    NoMergeBase {
        base: String,
        head: String,
        shallow: bool,
    },

    #[error("the repository has no commit yet, so there is nothing to compare against\n  help: make a first commit, or pass --base and --head")]
    NoCommits,

    #[error("{context}: {source}")]
    Git {
        context: String,
        source: git2::Error,
    },

    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

const SHALLOW_HELP: &str =
    "\n  help: this clone is shallow, so the commit may not have been fetched: \
set `fetch-depth: 0` on actions/checkout, or run `git fetch --unshallow`";

impl GitError {
    fn git(context: impl Into<String>, source: git2::Error) -> Self {
        GitError::Git {
            context: context.into(),
            source,
        }
    }
}

/// An open repository with a working tree (or bare).
pub struct Repo {
    repo: Repository,
}

impl Repo {
    /// Opens the repository containing `path` (searching parent directories, like git).
    pub fn discover(path: &Path) -> Result<Self, GitError> {
        Repository::discover(path)
            .map(|repo| Repo { repo })
            .map_err(|_| GitError::NotARepository {
                path: path.to_path_buf(),
            })
    }

    pub fn raw(&self) -> &Repository {
        &self.repo
    }

    /// The working tree's root, if the repository has one.
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow()
    }

    /// Resolves any revision expression (`main`, `origin/main`, `HEAD~2`, a SHA) to a commit.
    pub fn resolve(&self, rev: &str) -> Result<Oid, GitError> {
        let unknown = || GitError::UnknownRevision {
            rev: rev.to_string(),
            shallow: self.is_shallow(),
        };
        let object = self.repo.revparse_single(rev).map_err(|e| match e.code() {
            ErrorCode::NotFound | ErrorCode::Ambiguous | ErrorCode::InvalidSpec => unknown(),
            _ if e.class() == git2::ErrorClass::Odb => unknown(),
            _ => GitError::git(format!("cannot resolve `{rev}`"), e),
        })?;
        object
            .peel_to_commit()
            .map(|c| c.id())
            .map_err(|e| GitError::git(format!("`{rev}` does not name a commit"), e))
    }

    /// Whether the object database holds commit `sha`.
    pub fn has_commit(&self, sha: &str) -> bool {
        Oid::from_str(sha)
            .ok()
            .and_then(|oid| self.repo.find_commit(oid).ok())
            .is_some()
    }

    /// When `commit` was committed, in Unix seconds.
    pub fn commit_time(&self, commit: Oid) -> Result<i64, GitError> {
        self.repo
            .find_commit(commit)
            .map(|c| c.committer().when().seconds())
            .map_err(|e| GitError::git(format!("cannot read commit {commit}"), e))
    }

    /// The URL of remote `name`, if it has one.
    pub fn remote_url(&self, name: &str) -> Option<String> {
        self.repo
            .find_remote(name)
            .ok()?
            .url()
            .ok()
            .map(String::from)
    }

    /// HEAD's commit, or [`GitError::NoCommits`] in a repository without one.
    pub fn head(&self) -> Result<Oid, GitError> {
        match self.repo.head() {
            Ok(head) => head
                .peel_to_commit()
                .map(|c| c.id())
                .map_err(|e| GitError::git("cannot read HEAD", e)),
            Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
                Err(GitError::NoCommits)
            }
            Err(e) => Err(GitError::git("cannot read HEAD", e)),
        }
    }

    /// HEAD's commit, or `None` in a repository without commits yet.
    pub fn head_if_any(&self) -> Result<Option<Oid>, GitError> {
        match self.head() {
            Ok(head) => Ok(Some(head)),
            Err(GitError::NoCommits) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The best common ancestor, as `git merge-base` finds it.
    pub fn merge_base(&self, base: Oid, head: Oid, names: (&str, &str)) -> Result<Oid, GitError> {
        self.repo
            .merge_base(base, head)
            .map_err(|e| match e.code() {
                ErrorCode::NotFound => GitError::NoMergeBase {
                    base: names.0.to_string(),
                    head: names.1.to_string(),
                    shallow: self.is_shallow(),
                },
                _ => GitError::git("cannot compute the merge base", e),
            })
    }

    /// The default base: the current branch's upstream, else `origin/HEAD`.
    pub fn default_base(&self) -> Option<String> {
        let upstream = self.repo.head().ok().and_then(|head| {
            let name = head.shorthand().ok()?.to_string();
            let branch = self.repo.find_branch(&name, git2::BranchType::Local).ok()?;
            let upstream = branch.upstream().ok()?;
            upstream.name().ok().flatten().map(String::from)
        });
        upstream.or_else(|| {
            self.repo
                .find_reference("refs/remotes/origin/HEAD")
                .ok()
                .map(|_| "origin/HEAD".to_string())
        })
    }

    /// The committed tree of a commit, as a snapshot to read files from.
    pub fn tree_snapshot(&self, commit: Oid) -> Result<TreeSnapshot<'_>, GitError> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| GitError::git(format!("cannot read the tree of {}", short(commit)), e))?;
        Ok(TreeSnapshot::new(&self.repo, tree, short(commit)))
    }

    /// The index (staging area), as a snapshot.
    pub fn index_snapshot(&self) -> Result<IndexSnapshot<'_>, GitError> {
        IndexSnapshot::open(&self.repo)
    }

    /// The file changes from `old` to `new` commits, renames detected like `git diff -M`.
    pub fn diff_commits(&self, old: Oid, new: Oid) -> Result<Vec<FileChange>, GitError> {
        diff::commits(&self.repo, old, new)
    }

    /// The file changes from the HEAD commit (or the empty tree) to the index.
    pub fn diff_staged(&self, head: Option<Oid>) -> Result<Vec<FileChange>, GitError> {
        diff::staged(&self.repo, head)
    }

    /// Paths differing between HEAD (or no commit) and the index, told fast through the
    /// index's cache-tree; `None` when only a full diff can tell.
    pub fn staged_paths(
        &self,
        index: &IndexSnapshot<'_>,
        head: Option<Oid>,
    ) -> Option<Vec<String>> {
        let tree = match head {
            Some(oid) => Some(self.repo.find_commit(oid).and_then(|c| c.tree()).ok()?),
            None => None,
        };
        index.changed_paths(tree.as_ref())
    }

    /// The bytes of a blob.
    pub fn blob(&self, oid: Oid) -> Result<Vec<u8>, GitError> {
        self.repo
            .find_blob(oid)
            .map(|b| b.content().to_vec())
            .map_err(|e| GitError::git(format!("cannot read blob {}", short(oid)), e))
    }

    /// The repo-relative `/` path of a filesystem path inside the working tree.
    pub fn relative_path(&self, path: &Path) -> Option<String> {
        let root = self.workdir()?.canonicalize().ok()?;
        let absolute = std::path::absolute(path).ok()?;
        let parent = absolute.parent()?.canonicalize().ok()?;
        let full = parent.join(absolute.file_name()?);
        let relative = full.strip_prefix(&root).ok()?;
        Some(
            relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// The 7-character abbreviation of an object id, for messages.
pub fn short(oid: Oid) -> String {
    oid.to_string()[..7].to_string()
}
