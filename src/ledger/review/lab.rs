//! What the review asks the repository beyond the ledger: the config it reviews with (the
//! tip's: the base decides), which surfaces a first-parent commit's change touched, which
//! case ids a surface had at a commit, and, for a commit the ledger has no record of, the
//! surface's failing cases measured there (cache first). Behind a trait so the analysis can
//! be tested and benchmarked without a model.

use std::collections::BTreeSet;
use std::path::PathBuf;

use git2::Oid;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::git::{FileEntry, Repo, Snapshot};
use crate::ledger::history::{config_bytes, Touched};

/// The repository questions the review asks.
pub trait Lab {
    /// The config at the reviewed tip.
    fn config(&mut self, tip: Oid) -> Result<Config>;
    /// Whether the change from `commit`'s first parent to `commit` touched `surface`.
    fn touches(&mut self, commit: Oid, surface: &str) -> Result<bool>;
    /// The case ids `surface` had at `commit` (`None`: unknown there).
    fn case_ids(&mut self, commit: Oid, surface: &str) -> Result<Option<BTreeSet<String>>>;
    /// The cases of `surface` failing at `commit` (`None`: it could not be measured
    /// completely there).
    fn failing(&mut self, commit: Oid, surface: &str) -> Result<Option<BTreeSet<String>>>;
}

/// The real repository, evaluating (cache first) where the ledger has no record.
pub struct RepoLab<'r> {
    repo: &'r Repo,
    config_path: String,
    cache_dir: Option<PathBuf>,
    read_cache: bool,
    touched: Touched<'r>,
    /// Commits evaluated for the review, to say so.
    evaluated: Vec<(Oid, String)>,
}

impl<'r> RepoLab<'r> {
    pub fn new(
        repo: &'r Repo,
        config_path: String,
        cache_dir: Option<PathBuf>,
        read_cache: bool,
    ) -> Self {
        RepoLab {
            repo,
            cache_dir,
            read_cache,
            touched: Touched::new(repo, &config_path),
            config_path,
            evaluated: Vec::new(),
        }
    }

    /// A line per commit evaluated because the ledger had no record of it.
    pub fn evaluated_notes(&self) -> Vec<String> {
        self.evaluated
            .iter()
            .map(|(commit, surface)| {
                format!(
                    "evaluated {} at {} to find where its regressions started (no record in the ledger)",
                    crate::report::escape_controls(surface),
                    crate::git::short(*commit)
                )
            })
            .collect()
    }
}

impl Lab for RepoLab<'_> {
    fn config(&mut self, tip: Oid) -> Result<Config> {
        let Some(bytes) = config_bytes(self.repo, &self.config_path, tip)? else {
            return Err(Error::invalid(
                crate::diagnostic::Diagnostic::error(
                    &self.config_path,
                    format!("no config file at {}", crate::git::short(tip)),
                )
                .with_help("commit a promptgate.toml (`promptgate init`) on the reviewed branch"),
            ));
        };
        let origin = format!("{}@{}", self.config_path, crate::git::short(tip));
        Ok(crate::config::load(&origin, &bytes)
            .map_err(Error::Invalid)?
            .config)
    }

    fn touches(&mut self, commit: Oid, surface: &str) -> Result<bool> {
        Ok(self.touched.of(commit)?.includes(surface))
    }

    fn case_ids(&mut self, commit: Oid, surface: &str) -> Result<Option<BTreeSet<String>>> {
        let Some(bytes) = config_bytes(self.repo, &self.config_path, commit)? else {
            return Ok(None);
        };
        let Ok(loaded) = crate::config::load(&self.config_path, &bytes) else {
            return Ok(None);
        };
        let Some(path) = loaded
            .config
            .surface_named(surface)
            .and_then(|s| s.cases.as_ref())
            .map(|c| c.get_ref().clone())
        else {
            return Ok(None);
        };
        let snapshot = self.repo.tree_snapshot(commit)?;
        let Some(FileEntry::File(cases)) = snapshot.read(&path)? else {
            return Ok(None);
        };
        Ok(crate::eval::cases::parse(&path, &cases)
            .ok()
            .map(|cases| cases.into_iter().map(|c| c.id).collect()))
    }

    fn failing(&mut self, commit: Oid, surface: &str) -> Result<Option<BTreeSet<String>>> {
        let request = crate::ledger::record::RecordRequest {
            rev: commit.to_string(),
            config_path: self.config_path.clone(),
            cache_dir: self.cache_dir.clone(),
            read_cache: self.read_cache,
        };
        self.evaluated.push((commit, surface.to_string()));
        let measured = match crate::ledger::record::measure(self.repo, &request, &[surface.into()])
        {
            Ok(measured) => measured,
            // A commit where the surface does not load cannot be where a case started
            // failing in a way the review can tell.
            Err(Error::Invalid(_) | Error::Usage { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(measured
            .entries
            .into_iter()
            .find(|e| e.surface == surface)
            .map(|e| e.failed.into_iter().collect()))
    }
}
