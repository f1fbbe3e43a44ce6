//! The pre-commit checks: what is staged, with no model call — the config, every affected
//! surface's templates rendered for every case, and the change records the change's tier
//! requires (staged now or already on the branch). The tier is decided by the same rules
//! as `check` (the committed config's tiers, loosenings, weakened cases).

use crate::changeset::{self, ChangeSet, ConfigSource};
use crate::config::{self, Config, Tier};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::suite;
use crate::gate::artifacts::{self, Document, Headings};
use crate::gate::tier;
use crate::git::{FileEntry, Repo, Snapshot};

/// Every problem in what is staged, with no model call: errors stop the commit, warnings
/// (a missing artifact under `[hooks] artifacts = "warn"`) are only said.
pub fn problems(repo: &Repo, config_path: &str) -> Result<Vec<Diagnostic>> {
    let head = repo.head_if_any()?;
    let index = repo.index_snapshot()?;
    let Some(FileEntry::File(bytes)) = index.read(config_path)? else {
        return Ok(Vec::new()); // no promptgate config staged: nothing to check here
    };
    let origin = config_path.to_string();
    let source = ConfigSource {
        origin: &origin,
        repo_path: config_path,
        bytes: &bytes,
    };
    let changes = match changeset::staged(repo, &index, head, source) {
        Ok(changes) => changes,
        Err(Error::Invalid(diagnostics)) => return Ok(diagnostics),
        Err(error) => return Err(error),
    };
    if changes.changes.is_empty() {
        return Ok(Vec::new());
    }
    let staged_config = match config::load(&origin, &bytes) {
        Ok(loaded) => loaded.config,
        Err(diagnostics) => {
            return Ok(diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect())
        }
    };
    let mut problems = Vec::new();
    for name in &changes.surfaces {
        let Some(surface) = staged_config.surface_named(name) else {
            continue;
        };
        let loaded = suite::load(&index, &origin, surface)?;
        problems.extend(loaded.diagnostics.into_iter().filter(Diagnostic::is_error));
    }
    let head_config = head.and_then(|oid| committed_config(repo, oid, config_path));
    problems.extend(missing_records(
        repo,
        &index,
        head,
        &changes,
        head_config.as_ref(),
        &staged_config,
    )?);
    Ok(problems)
}

fn committed_config(repo: &Repo, commit: git2::Oid, path: &str) -> Option<Config> {
    let snapshot = repo.tree_snapshot(commit).ok()?;
    let bytes = match snapshot.read(path).ok()?? {
        FileEntry::File(bytes) => bytes,
        _ => return None,
    };
    config::load(path, &bytes).ok().map(|l| l.config)
}

/// The artifacts the change's tier requires, looked for in change records staged now or
/// already on the branch (since it left the default branch).
fn missing_records(
    repo: &Repo,
    index: &dyn Snapshot,
    head: Option<git2::Oid>,
    changes: &ChangeSet,
    committed: Option<&Config>,
    staged: &Config,
) -> Result<Vec<Diagnostic>> {
    let policy = committed.unwrap_or(staged);
    let tiers: Vec<Tier> = changes
        .surfaces
        .iter()
        .filter_map(|name| {
            policy
                .surface_named(name)
                .or_else(|| staged.surface_named(name))
        })
        .map(|s| s.tier)
        .collect();
    let mut decision = tier::decide(&tiers, changes.surfaces.len(), committed, Some(staged));
    // Staged eval cases that are removed or weakened loosen the gate, as in `check`.
    for change in &changes.changes {
        for surface in &change.surfaces {
            decision.raise(tier::case_loosenings(
                surface,
                change.cases.as_deref().unwrap_or_default(),
            ));
        }
    }
    let required = policy.required_artifacts(decision.tier);
    if required.is_empty() {
        return Ok(Vec::new());
    }
    let mut record_paths: Vec<String> = repo
        .diff_staged(head)?
        .into_iter()
        .filter(crate::changeset::is_change_record)
        .map(|c| c.path)
        .collect();
    let default = repo
        .default_base()
        .and_then(|base| repo.resolve(&base.rev).ok());
    if let (Some(head), Some(default)) = (head, default) {
        if let Ok(merge_base) = repo.merge_base(default, head, ("the default branch", "HEAD")) {
            record_paths.extend(
                repo.diff_commits(merge_base, head)?
                    .into_iter()
                    .filter(crate::changeset::is_change_record)
                    .map(|c| c.path),
            );
        }
    }
    record_paths.sort();
    record_paths.dedup();
    let mut texts = Vec::new();
    for path in record_paths {
        if let Some(text) = index.read_text(&path)? {
            texts.push((path, text));
        }
    }
    let documents: Vec<Document<'_>> = texts
        .iter()
        .map(|(source, markdown)| Document { source, markdown })
        .collect();
    // Under `[hooks] artifacts = "warn"` (the default) the commit goes through: the pull
    // request's description may hold them.
    let require = policy.hooks.artifacts == crate::config::HookArtifacts::Require;
    Ok(artifacts::check(&required, &documents, &Headings::default())
        .into_iter()
        .filter(|a| !a.found)
        .map(|a| {
            let message = format!("this {} change needs the `{}` artifact: {}", decision.tier.as_str(), a.name, a.reason.unwrap_or_default());
            let diagnostic = if require {
                Diagnostic::error(".promptgate/changes/", message)
            } else {
                Diagnostic::warning(".promptgate/changes/", format!("{message}; the pull request will need it"))
            };
            diagnostic.with_help("write it in the pull request's description, or stage a change record .promptgate/changes/<topic>.md with \"## Expected user impact\" and \"## Rollback plan\" sections")
        })
        .collect())
}
