//! The gate: from a change set and the eval results of both sides to one verdict. Each
//! affected surface is judged by the base's thresholds (statistics, rules), the change's
//! tier and artifacts are checked, approvals are counted, and every reason is written down.
//! The judgement is a pure function of its inputs, so sharded runs merge into the verdict a
//! single run gives.

pub mod artifacts;
pub mod model;
mod noise;
pub mod rules;
pub mod sequential;
pub mod statistics;
pub mod tier;
pub mod trust;

use serde::{Deserialize, Serialize};

use crate::config::Tier;
use crate::exit;
pub use model::{
    SideResult, SurfaceChange, SurfaceInput, SurfaceReport, Thresholds, SCHEMA_VERSION,
};
pub use rules::judge_surface;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    NeedsSignoff,
    Blocked,
    Error,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => exit::PASS,
            Verdict::NeedsSignoff => exit::NEEDS_SIGNOFF,
            Verdict::Blocked => exit::BLOCKED,
            Verdict::Error => exit::ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NeedsSignoff => "needs-signoff",
            Verdict::Blocked => "blocked",
            Verdict::Error => "error",
        }
    }
}

/// Who must approve, and who has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approvals {
    pub tier: Tier,
    pub required: u32,
    pub approved_by: Vec<String>,
    pub missing: u32,
    /// Who may approve (logins and `org/team`s).
    pub approvers: Vec<String>,
    /// Why approvals could not be read, when they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Approvals that were given but do not count, each with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_counted: Vec<String>,
}

/// The whole verdict, as `report.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub verdict: Verdict,
    pub exit_code: i32,
    pub base: Option<String>,
    pub head: Option<String>,
    pub merge_base: Option<String>,
    /// The pull request gated, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    /// The `--pr-body` file the artifacts were read from, for the re-run line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_body: Option<String>,
    pub tier: Tier,
    pub reasons: Vec<String>,
    /// Observations that do not decide the verdict (tail degradation, tier raises…).
    pub notes: Vec<String>,
    pub surfaces: Vec<SurfaceReport>,
    pub artifacts: Vec<artifacts::ArtifactStatus>,
    pub approvals: Approvals,
    /// Changed files that matter to the gate, with their status.
    pub changed_files: Vec<ChangedFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedFile {
    pub status: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    pub surfaces: Vec<String>,
}

/// Everything the verdict depends on besides the surfaces.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Context {
    pub base: Option<String>,
    pub head: Option<String>,
    pub merge_base: Option<String>,
    #[serde(default)]
    pub pull_request: Option<u64>,
    pub tier: Option<Tier>,
    pub tier_reasons: Vec<String>,
    pub artifacts: Vec<artifacts::ArtifactStatus>,
    /// Missing artifacts are said, not blocking (a local hook under `[hooks] artifacts =
    /// "warn"`: the pull request's description may still hold them).
    #[serde(default)]
    pub artifacts_advisory: bool,
    pub approvals: Option<Approvals>,
    /// Problems that stop the gate from finishing (fail closed).
    pub errors: Vec<String>,
    /// Problems that block whatever the evals say (a head prompt that does not render…).
    pub blockers: Vec<String>,
    pub changed_files: Vec<ChangedFile>,
    /// Observations for the comment that do not decide the verdict.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The thresholds `surface` is judged by: its own, with the run's significance from
/// `policy` (the base's config).
pub fn thresholds(policy: &crate::config::Config, surface: &crate::config::Surface) -> Thresholds {
    let value = |v: &Option<toml::Spanned<f64>>| v.as_ref().map(|v| *v.get_ref());
    Thresholds {
        min_pass_rate: value(&surface.min_pass_rate),
        max_drop: value(&surface.max_drop),
        tail_min_pass_rate: value(&surface.tail_min_pass_rate),
        metrics: surface.metrics.iter().map(|m| m.get_ref().into()).collect(),
        significance: *policy.gate.significance.get_ref(),
    }
}

/// The verdict from the context and the judged surfaces: `error` when anything could not
/// be measured, else `blocked` when a rule or artifact fails, else `needs-signoff` when
/// approvals are missing, else `pass`.
pub fn decide(context: Context, surfaces: Vec<SurfaceReport>) -> Report {
    let mut reasons: Vec<String> = context.errors.clone();
    for surface in &surfaces {
        if !surface.complete {
            reasons.push(format!(
                "surface `{}`: {} case(s) could not be run or graded ({}); the gate fails closed: fix the cause and re-run",
                surface.name,
                surface.errors.len(),
                surface.first_error.as_deref().unwrap_or("see report.json")
            ));
        }
    }
    let errored = !reasons.is_empty();
    let mut blocking: Vec<String> = context.blockers.clone();
    for surface in &surfaces {
        for rule in surface.rules.iter().filter(|r| !r.ok) {
            blocking.push(format!("surface `{}`: {}", surface.name, rule.describe()));
        }
    }
    let mut advisories = Vec::new();
    for artifact in context.artifacts.iter().filter(|a| !a.found) {
        let missing = format!(
            "artifact `{}` is missing: {}",
            artifact.name,
            artifact.reason.as_deref().unwrap_or("no section found")
        );
        if context.artifacts_advisory {
            advisories.push(format!(
                "{missing} (the pull request's description or a change record will need it)"
            ));
        } else {
            blocking.push(missing);
        }
    }
    let tier = context.tier.unwrap_or(Tier::SelfApproved);
    let approvals = context.approvals.clone().unwrap_or(Approvals {
        tier,
        required: 0,
        approved_by: Vec::new(),
        missing: 0,
        approvers: Vec::new(),
        note: None,
        not_counted: Vec::new(),
    });
    let verdict = if errored {
        Verdict::Error
    } else if !blocking.is_empty() {
        Verdict::Blocked
    } else if approvals.missing > 0 {
        Verdict::NeedsSignoff
    } else {
        Verdict::Pass
    };
    reasons.extend(blocking);
    if verdict == Verdict::NeedsSignoff || (approvals.missing > 0 && verdict != Verdict::Pass) {
        let who = if approvals.approvers.is_empty() {
            "the tier's approvers".to_string()
        } else {
            approvals.approvers.join(", ")
        };
        reasons.push(format!(
            "{} more approval(s) needed for this {} change, from {who}{}",
            approvals.missing,
            tier.as_str(),
            approvals
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    }
    let mut notes: Vec<String> = context
        .tier_reasons
        .iter()
        .map(|r| format!("tier raised to exec: {r}"))
        .collect();
    notes.extend(context.notes.iter().cloned());
    notes.extend(advisories);
    notes.extend(surfaces.iter().flat_map(|s| {
        s.notes
            .iter()
            .map(move |n| format!("surface `{}`: {n}", s.name))
    }));
    Report {
        schema_version: SCHEMA_VERSION,
        verdict,
        exit_code: verdict.exit_code(),
        base: context.base,
        head: context.head,
        merge_base: context.merge_base,
        pull_request: context.pull_request,
        pr_body: None,
        tier,
        reasons,
        notes,
        surfaces,
        artifacts: context.artifacts,
        approvals,
        changed_files: context.changed_files,
    }
}
