//! The `gate` entries `record` adds when the recorded commit's first-parent change touched
//! surfaces: the gate run on that change (first parent → commit, the same library call as
//! `promptgate check --base P --head REV`, cache first), and per measured surface one entry
//! holding the head side's measurement with the gate's facts: the pull request the commit
//! message names, verdict, tier, approvals, regressions, fixes and the change record's impact
//! and rollback texts. A surface whose head side was not measured completely gets no entry.

use git2::Oid;

use super::record::Described;
use super::{Entry, EntryKind, GateFacts, SCHEMA_VERSION};
use crate::changeset;
use crate::check::{self, CheckRequest, Checked, PullSource};
use crate::diagnostic::Diagnostic;
use crate::eval::run::{CaseStatus, CaseSummary};
use crate::gate::artifacts::{self, Document, Finding, Headings};
use crate::gate::model::SideStats;
use crate::gate::trust::HeadTrust;
use crate::gate::{SurfaceReport, Verdict};
use crate::git::{short, Repo};

/// A local run's view of the pull request: its number, as the merge or squash commit's
/// message names it, and nothing else (no description, no reviews: approvals count none).
#[derive(Debug, Clone, Copy, Default)]
pub struct FromMessage(pub Option<u64>);

impl PullSource for FromMessage {
    fn number(&self) -> Option<u64> {
        self.0
    }
}

/// What the gate left for the ledger.
#[derive(Debug, Default)]
pub(super) struct Gated {
    pub entries: Vec<Entry>,
    /// Surfaces (or the whole gate) left out because they were not measured completely.
    pub incomplete: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

/// What every entry of one `record` run shares.
pub(super) struct Stamp<'a> {
    pub run_id: &'a str,
    pub recorded_at: &'a str,
}

/// Where and how the gate runs: the config's path and the response cache `record` used.
pub(super) struct Setup<'a> {
    pub config_path: &'a str,
    pub cache_dir: std::path::PathBuf,
    pub read_cache: bool,
}

/// Gates `commit`'s first-parent change and returns its `gate` entries (none for a root
/// commit, a change that touched no surface, or a first parent this clone lacks).
pub(super) fn gate(
    repo: &Repo,
    commit: Oid,
    setup: &Setup<'_>,
    described: &[Described],
    stamp: &Stamp<'_>,
) -> Gated {
    let mut gated = Gated::default();
    let Ok(found) = repo.raw().find_commit(commit) else {
        return gated;
    };
    let Ok(base) = found.parent_id(0) else {
        // A root commit changed nothing against a parent.
        return gated;
    };
    if repo.raw().find_commit(base).is_err() {
        gated.warnings.push(
            Diagnostic::warning(
                setup.config_path,
                format!(
                    "no gate entry for {}: its first parent {} is not in this clone",
                    short(commit),
                    short(base)
                ),
            )
            .with_help("fetch the history (`git fetch --unshallow`; in Actions, actions/checkout with `fetch-depth: 0`) and record again"),
        );
        return gated;
    }
    let pr = crate::git::pr::from_message(found.message().unwrap_or_default());
    let request = CheckRequest {
        base: Some(base.to_string()),
        head: Some(commit.to_string()),
        config_path: setup.config_path.to_string(),
        pr_body: None,
        cache_dir: Some(setup.cache_dir.clone()),
        read_cache: setup.read_cache,
        shard: None,
        head_trust: HeadTrust::Untrusted,
        local_hook: false,
    };
    let range = format!("{}..{}", short(base), short(commit));
    let checked = match check::check(repo, &request, &FromMessage(pr)) {
        Ok(checked) => checked,
        Err(error) => {
            gated.incomplete.push(format!(
                "the gate on {range} could not run, so no gate entry was recorded: {error}"
            ));
            return gated;
        }
    };
    gated.warnings.extend(checked.warnings.iter().cloned());
    let report = &checked.report;
    let (impact, rollback) = artifact_texts(repo, base, commit);
    for surface in &report.surfaces {
        let Some((stats, head)) = head_side(&checked, surface) else {
            // Not measured on the head: removed, ungated, or stopped before any call.
            continue;
        };
        if !head_complete(surface, head) {
            gated.incomplete.push(format!(
                "surface `{}`: the gate on {range} could not run or grade every case on the head, so no gate entry was recorded for it",
                surface.name
            ));
            continue;
        }
        let Some(described) = described.iter().find(|d| d.surface == surface.name) else {
            gated.warnings.push(Diagnostic::warning(
                setup.config_path,
                format!(
                    "no gate entry for surface `{}` on {}: the gate measured it, but the commit's config does not gate it",
                    surface.name,
                    short(commit)
                ),
            ));
            continue;
        };
        let facts = GateFacts {
            base: base.to_string(),
            head: commit.to_string(),
            pr,
            verdict: report.verdict,
            tier: report.tier,
            approved_by: report.approvals.approved_by.clone(),
            regressions: surface.regressions.iter().map(|f| f.id.clone()).collect(),
            fixes: surface.fixes.iter().map(|f| f.id.clone()).collect(),
            impact: impact.clone(),
            rollback: rollback.clone(),
            base_side: base_side(surface),
        };
        gated.entries.push(entry(
            surface,
            (stats, head),
            described,
            commit,
            stamp,
            facts,
        ));
    }
    if report.verdict == Verdict::Error && gated.entries.is_empty() && gated.incomplete.is_empty() {
        gated.incomplete.push(format!(
            "the gate on {range} could not finish, so no gate entry was recorded: {}",
            report.reasons.join("; ")
        ));
    }
    gated
}

/// The head side of `surface` (its statistics and cases), when the gate evaluated it.
fn head_side<'c>(
    checked: &'c Checked,
    surface: &'c SurfaceReport,
) -> Option<(&'c SideStats, &'c [CaseSummary])> {
    let stats = surface.head.as_ref()?;
    checked
        .sides
        .iter()
        .find(|(name, side, _)| *name == surface.name && *side == "head")
        .map(|(_, _, cases)| (stats, cases.as_slice()))
}

/// Whether the head side came back whole: no case errored on it, and when the surface is
/// incomplete an errored base case says why (a lost case names no side, so it counts
/// against the head).
fn head_complete(surface: &SurfaceReport, head: &[CaseSummary]) -> bool {
    !head.iter().any(|c| c.status == CaseStatus::Error)
        && (surface.complete || !surface.errors.is_empty())
}

/// The impact and rollback texts of the change records the change adds or edits, found as
/// the gate finds them.
fn artifact_texts(repo: &Repo, base: Oid, head: Oid) -> (Option<String>, Option<String>) {
    let records = repo
        .tree_snapshot(head)
        .ok()
        .and_then(|snapshot| changeset::change_records(repo, base, head, &snapshot).ok())
        .unwrap_or_default();
    let documents: Vec<Document<'_>> = records
        .iter()
        .map(|(source, markdown)| Document { source, markdown })
        .collect();
    let text = |artifact: &str| match artifacts::find(
        &documents,
        &Headings::default().names_for(artifact),
    ) {
        Finding::Written { section, .. } => Some(section.body),
        Finding::Missing { .. } => None,
    };
    (text("impact"), text("rollback"))
}

fn entry(
    surface: &SurfaceReport,
    (stats, head): (&SideStats, &[CaseSummary]),
    described: &Described,
    commit: Oid,
    stamp: &Stamp<'_>,
    facts: GateFacts,
) -> Entry {
    let ids = |keep: &dyn Fn(&CaseSummary) -> bool| {
        head.iter()
            .filter(|c| keep(c))
            .map(|c| c.id.clone())
            .collect()
    };
    Entry {
        schema_version: SCHEMA_VERSION,
        run_id: stamp.run_id.to_string(),
        kind: EntryKind::Gate,
        recorded_at: stamp.recorded_at.to_string(),
        commit: commit.to_string(),
        surface: surface.name.clone(),
        provider: surface.provider.head.clone().unwrap_or_default(),
        model: surface
            .model
            .head
            .clone()
            .unwrap_or_else(|| described.model.clone()),
        model_reported: surface.model_reported.head.clone(),
        cases: stats.cases,
        passed: stats.passed,
        pass_rate: stats.pass_rate,
        ci_low: stats.ci_low,
        ci_high: stats.ci_high,
        tail_pass_rate: surface.tail.as_ref().map(|t| t.head_pass_rate),
        metrics: surface
            .metrics
            .iter()
            .filter_map(|m| Some((m.name.clone(), m.head?)))
            .collect(),
        cost_usd: surface.cost.head_usd,
        latency_ms: surface.latency_ms.head.unwrap_or_default(),
        failed: ids(&|c| c.status == CaseStatus::Fail),
        flaky: ids(&|c| c.flaky),
        suite: described.suite.clone(),
        prompt: described.prompt.clone(),
        gate: Some(facts),
        experiment: None,
    }
}

/// The base side's summary, when the gate measured the surface there.
fn base_side(surface: &SurfaceReport) -> Option<super::SideSummary> {
    surface
        .base
        .as_ref()
        .map(|_| super::SideSummary::of(surface, false))
}
