//! Repository access through libgit2: opening the repository (as git hands it over:
//! `GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE`), resolving revisions, the default branch
//! and the merge base (with the shallow-clone diagnosis), reading files at a revision, in
//! the index or in the working tree ([`Snapshot`]), and the raw tree diff with rename
//! detection; which pull request merged a commit ([`pr`]).

mod diff;
mod index_file;
pub mod pr;
mod snapshot;

pub use diff::{FileChange, FileSide, Status};
pub use snapshot::{
    EmptySnapshot, EntryKind, FileEntry, IndexSnapshot, Snapshot, TreeSnapshot, WorkTreeSnapshot,
};

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository, RepositoryOpenFlags};

/// Why a git operation failed, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{} is not inside a git repository\n  help: run promptgate from a clone of your project (or `git init` one)", path.display())]
    NotARepository { path: PathBuf },

    #[error("GIT_DIR names {}, which is not a git repository\n  help: point GIT_DIR at a repository's git directory, or unset it to find the repository from the current directory", path.display())]
    BadGitDir { path: PathBuf },

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

/// The remote every default is read from.
pub const DEFAULT_REMOTE: &str = "origin";

/// The branch a change merges into when none is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultBranch {
    /// The revision to compare with: `origin/main`, or a local `main`.
    pub rev: String,
    /// The branch's name (`main`), to recognise a push to it.
    pub name: String,
}

/// An open repository with a working tree (or bare).
pub struct Repo {
    repo: Repository,
}

impl Repo {
    /// Opens the repository containing `path` (searching parent directories, like git). The
    /// index is the one `GIT_INDEX_FILE` names when set, and the working tree the one
    /// `GIT_WORK_TREE` names: git hands both to its hooks (`git commit -a` stages into a
    /// temporary index), and the index reader follows the same variable.
    pub fn discover(path: &Path) -> Result<Self, GitError> {
        let repo = Repository::open_ext(path, RepositoryOpenFlags::FROM_ENV, None::<&Path>)
            .map_err(|e| match e.code() {
                ErrorCode::NotFound => GitError::NotARepository {
                    path: path.to_path_buf(),
                },
                _ => GitError::git(
                    format!("cannot open the repository at {}", path.display()),
                    e,
                ),
            })?;
        Self::with_env_work_tree(repo)
    }

    /// Opens the repository as git does from the current directory `cwd`: the one
    /// `GIT_DIR` names (no search), else the one containing `cwd` (within
    /// `GIT_CEILING_DIRECTORIES`); with `GIT_WORK_TREE` and `GIT_INDEX_FILE` honoured.
    pub fn from_env(cwd: &Path) -> Result<Self, GitError> {
        let git_dir = std::env::var_os("GIT_DIR").filter(|v| !v.is_empty());
        let repo = Repository::open_from_env().map_err(|e| match (e.code(), git_dir) {
            (ErrorCode::NotFound, Some(dir)) => GitError::BadGitDir {
                path: cwd.join(dir),
            },
            (ErrorCode::NotFound, None) => GitError::NotARepository {
                path: cwd.to_path_buf(),
            },
            _ => GitError::git(
                format!("cannot open the repository from {}", cwd.display()),
                e,
            ),
        })?;
        Self::with_env_work_tree(repo)
    }

    /// libgit2 ignores `GIT_WORK_TREE` in a linked worktree, and reads a relative one
    /// against the git directory; git honours it always, relative to the current directory.
    /// (A relative one that does not exist under the git directory makes libgit2 refuse to
    /// open the repository: the CLI makes the variable absolute before opening.)
    fn with_env_work_tree(repo: Repository) -> Result<Self, GitError> {
        if let Some(work_tree) = std::env::var_os("GIT_WORK_TREE").filter(|v| !v.is_empty()) {
            let path = PathBuf::from(work_tree);
            repo.set_workdir(&path, false).map_err(|e| {
                GitError::git(
                    format!(
                        "cannot use GIT_WORK_TREE={} as the working tree",
                        path.display()
                    ),
                    e,
                )
            })?;
        }
        Ok(Repo { repo })
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

    /// The default base for `check`, `diff` and the hooks: the default branch of `origin`
    /// (see [`Repo::default_branch`]). Never the current branch's upstream: after
    /// `git push -u` that is the branch itself.
    pub fn default_base(&self) -> Option<DefaultBranch> {
        self.default_branch(DEFAULT_REMOTE)
    }

    /// The branch changes pushed to `remote` merge into: `<remote>/HEAD` (what the remote
    /// calls its default branch), else `<remote>/main`, `<remote>/master`, else a local
    /// `main` or `master`. Only refs that name a commit count.
    pub fn default_branch(&self, remote: &str) -> Option<DefaultBranch> {
        let remote_prefix = format!("refs/remotes/{remote}/");
        let names_commit = |name: &str| {
            self.repo
                .find_reference(name)
                .and_then(|r| r.peel_to_commit())
                .is_ok()
        };
        let from_remote = |full: &str| -> Option<DefaultBranch> {
            let branch = full.strip_prefix(&remote_prefix)?;
            (branch != "HEAD" && names_commit(full)).then(|| DefaultBranch {
                rev: format!("{remote}/{branch}"),
                name: branch.to_string(),
            })
        };
        let remote_head = self
            .repo
            .find_reference(&format!("{remote_prefix}HEAD"))
            .ok()
            .and_then(|r| r.symbolic_target().ok().flatten().map(String::from))
            .and_then(|target| from_remote(&target));
        remote_head
            .or_else(|| from_remote(&format!("{remote_prefix}main")))
            .or_else(|| from_remote(&format!("{remote_prefix}master")))
            .or_else(|| {
                ["main", "master"]
                    .into_iter()
                    .find(|name| names_commit(&format!("refs/heads/{name}")))
                    .map(|name| DefaultBranch {
                        rev: name.to_string(),
                        name: name.to_string(),
                    })
            })
    }

    /// Writes the files of `commit` into `dir` (not the working tree; the index is left
    /// alone): where the gate runs the base's commands, so they run the base's code.
    pub fn export(&self, commit: Oid, dir: &Path) -> Result<(), GitError> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| GitError::git(format!("cannot read the tree of {}", short(commit)), e))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.target_dir(dir).force().update_index(false);
        self.repo
            .checkout_tree(tree.as_object(), Some(&mut checkout))
            .map_err(|e| {
                GitError::git(
                    format!(
                        "cannot write the files of {} to {}",
                        short(commit),
                        dir.display()
                    ),
                    e,
                )
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
