//! What the gate plans before it measures: the config each revision holds (an invalid one
//! stops the gate), the surfaces the change affects with their definitions on each side,
//! the overdue rollback drills among them, and, after judging, the rules a suite edit hid.

use crate::changeset::ChangeSet;
use crate::config::{self, Config, Surface};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::gate::{self, ChangedFile, Context, SurfaceChange};
use crate::git::{FileEntry, Snapshot, TreeSnapshot};
use crate::report;

/// A parsed config and its text, read from a revision.
pub(super) struct RevConfig {
    pub origin: String,
    pub bytes: Vec<u8>,
    pub config: Config,
}

/// The config at a revision: `None` when absent; an invalid one stops the gate (it cannot
/// be trusted to mean anything).
pub(super) fn read_config(
    snapshot: &TreeSnapshot<'_>,
    path: &str,
    side: &str,
) -> Result<Option<RevConfig>> {
    let Some(FileEntry::File(bytes)) = snapshot.read(path)? else {
        return Ok(None);
    };
    let origin = format!("{path}@{}", snapshot.describe());
    let loaded = config::load(&origin, &bytes).map_err(|diagnostics| {
        let mut all = vec![Diagnostic::error(
            &origin,
            format!("the {side} config is invalid, so the gate cannot be applied"),
        )
        .with_help("fix the config (see the errors below); the gate fails closed until it parses")];
        all.extend(diagnostics);
        Error::Invalid(all)
    })?;
    Ok(Some(RevConfig {
        origin,
        bytes,
        config: loaded.config,
    }))
}

pub(super) fn changed_files(changes: &ChangeSet) -> Vec<ChangedFile> {
    changes
        .changes
        .iter()
        .map(|c| ChangedFile {
            status: report::status_word(c),
            path: c.path.clone(),
            old_path: c.old_path.clone(),
            surfaces: c.surfaces.clone(),
        })
        .collect()
}

/// An affected surface and its definitions on each side.
pub(super) struct Plan<'c> {
    pub name: String,
    pub change: SurfaceChange,
    /// The definition the surface is judged by: the base's, or the head's when new.
    pub policy: &'c Surface,
    pub head: Option<&'c Surface>,
    pub changed_files: Vec<String>,
    /// Added on the base branch after this branch started: measured with the base's
    /// definition on the head's files.
    pub behind: bool,
}

/// Every surface the change affects, with its definitions on each side.
pub(super) fn surfaces<'c>(
    changes: &ChangeSet,
    base: Option<&'c Config>,
    merge_base: Option<&'c Config>,
    head: Option<&'c Config>,
) -> Vec<Plan<'c>> {
    let find = |config: Option<&'c Config>, name: &str| config.and_then(|c| c.surface_named(name));
    changes
        .surfaces
        .iter()
        .filter_map(|name| {
            let (in_base, in_head) = (find(base, name), find(head, name));
            // A surface the base branch added after the branch started is measured on the
            // head as the base defines it (no base side to compare).
            let behind = in_base.is_some() && in_head.is_none() && find(merge_base, name).is_none();
            let in_head = if behind { in_base } else { in_head };
            let change = match (in_base, in_head) {
                (Some(_), Some(_)) if behind => SurfaceChange::Added,
                (Some(_), Some(_)) => SurfaceChange::Modified,
                (None, Some(_)) => SurfaceChange::Added,
                (Some(_), None) => SurfaceChange::Removed,
                (None, None) => return None,
            };
            let changed_files = changes
                .changes
                .iter()
                .filter(|c| c.surfaces.contains(name))
                .map(|c| c.path.clone())
                .collect();
            Some(Plan {
                name: name.clone(),
                change,
                policy: in_base.or(in_head)?,
                head: in_head,
                changed_files,
                behind,
            })
        })
        .collect()
}

pub(super) fn drill_notes(
    policy: &Config,
    base: &TreeSnapshot<'_>,
    plans: &[Plan<'_>],
    context: &mut Context,
) -> Result<()> {
    let records = crate::drill::records::list(base)?;
    let today = crate::util::time::today();
    for plan in plans.iter().filter(|p| p.change == SurfaceChange::Modified) {
        if let Some(reason) =
            crate::drill::records::overdue(&records, &plan.name, policy.drill.every_days, &today)
        {
            match policy.drill.overdue {
                config::Overdue::Warn => context
                    .notes
                    .push(format!("rollback drill overdue: {reason}")),
                config::Overdue::Block => context
                    .blockers
                    .push(format!("rollback drill overdue: {reason}")),
            }
        }
    }
    Ok(())
}

/// The rules a judged surface fails on the suite as it stood on the base, each a reason
/// to raise the tier.
pub(super) fn hidden_by_suite_edit(surface: &gate::SurfaceReport) -> Vec<String> {
    surface
        .against_base_suite
        .iter()
        .flat_map(|against| &against.failed_rules)
        .map(|rule| {
            format!(
                "surface `{}`: against the suite as it stood on base, {}",
                surface.name,
                rule.describe()
            )
        })
        .collect()
}
