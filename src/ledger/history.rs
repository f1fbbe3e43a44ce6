//! The first-parent history as the ledger's readers and writers walk it: the commits from a
//! tip back (newest first, with their committer times), which surfaces a commit's change from
//! its first parent touched (the change set mapped with the commit's own config, as the gate
//! maps it), remembered per commit; and a revision's config file.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use crate::changeset::{self, ConfigSource};
use crate::error::{Error, Result};
use crate::git::{FileEntry, Repo, Snapshot};

/// What a commit's first-parent change touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// These surfaces (none for a root commit or a commit without a config).
    Surfaces(BTreeSet<String>),
    /// The commit's config does not load: any surface may have moved.
    Unknown,
}

impl Touch {
    /// Whether `surface` may have moved.
    pub fn includes(&self, surface: &str) -> bool {
        match self {
            Touch::Surfaces(surfaces) => surfaces.contains(surface),
            Touch::Unknown => true,
        }
    }
}

/// The surfaces each commit's first-parent change touched, computed once per commit.
pub struct Touched<'r> {
    repo: &'r Repo,
    config_path: String,
    known: BTreeMap<Oid, Touch>,
}

impl<'r> Touched<'r> {
    pub fn new(repo: &'r Repo, config_path: &str) -> Self {
        Touched {
            repo,
            config_path: config_path.to_string(),
            known: BTreeMap::new(),
        }
    }

    /// What the change from `commit`'s first parent to `commit` touched.
    pub fn of(&mut self, commit: Oid) -> Result<&Touch> {
        if !self.known.contains_key(&commit) {
            let touch = self.compute(commit)?;
            self.known.insert(commit, touch);
        }
        Ok(&self.known[&commit])
    }

    fn compute(&self, commit: Oid) -> Result<Touch> {
        let parent = self
            .repo
            .raw()
            .find_commit(commit)
            .ok()
            .and_then(|c| c.parent_id(0).ok());
        let (Some(parent), Some(bytes)) =
            (parent, config_bytes(self.repo, &self.config_path, commit)?)
        else {
            return Ok(Touch::Surfaces(BTreeSet::new()));
        };
        let old = self.repo.tree_snapshot(parent)?;
        let new = self.repo.tree_snapshot(commit)?;
        let origin = format!("{}@{}", self.config_path, crate::git::short(commit));
        let source = ConfigSource {
            origin: &origin,
            repo_path: &self.config_path,
            bytes: &bytes,
        };
        match changeset::assemble(self.repo, &old, &new, source, |_| {
            self.repo.diff_commits(parent, commit)
        }) {
            Ok(set) => Ok(Touch::Surfaces(set.surfaces.into_iter().collect())),
            Err(Error::Invalid(_)) => Ok(Touch::Unknown),
            Err(error) => Err(error),
        }
    }
}

/// The config file's bytes at `commit`, if it has one.
pub fn config_bytes(repo: &Repo, config_path: &str, commit: Oid) -> Result<Option<Vec<u8>>> {
    let snapshot = repo.tree_snapshot(commit)?;
    Ok(match snapshot.read(config_path)? {
        Some(FileEntry::File(bytes)) => Some(bytes),
        _ => None,
    })
}

/// One commit of a first-parent walk.
pub struct Step<'r> {
    pub oid: Oid,
    pub commit: git2::Commit<'r>,
    /// The committer time, Unix seconds.
    pub time: i64,
}

/// The first-parent commits from `tip`, newest first; `purpose` names the walk in errors.
pub fn first_parents<'r>(
    repo: &'r Repo,
    tip: Oid,
    purpose: &'static str,
) -> Result<impl Iterator<Item = Result<Step<'r>>>> {
    let raw = repo.raw();
    let fail = move |source: git2::Error| {
        Error::from(crate::git::GitError::Git {
            context: format!("walk the first-parent history for {purpose}"),
            source,
        })
    };
    let mut walk = raw.revwalk().map_err(fail)?;
    walk.push(tip).map_err(fail)?;
    walk.simplify_first_parent().map_err(fail)?;
    Ok(walk.map(move |oid| {
        let oid = oid.map_err(fail)?;
        let commit = raw.find_commit(oid).map_err(fail)?;
        let time = commit.committer().when().seconds();
        Ok(Step { oid, commit, time })
    }))
}
