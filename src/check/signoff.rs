//! Sign-off: the artifacts the change's tier requires (from the pull request description
//! and the change records the change adds or edits), and the approvals it needs against
//! those given on the pull request, each bound to the head commit it names.

use super::PullSource;
use crate::changeset;
use crate::config::{Config, Tier};
use crate::error::Result;
use crate::gate::artifacts::{self, Document, Headings};
use crate::gate::Approvals;
use crate::git::{Repo, TreeSnapshot};
use crate::github;

/// and from the PR description.
pub(super) fn check_artifacts(
    repo: &Repo,
    policy: &Config,
    tier: Tier,
    head: &TreeSnapshot<'_>,
    (merge_base, head_oid): (git2::Oid, git2::Oid),
    pr_body: Option<String>,
) -> Result<Vec<artifacts::ArtifactStatus>> {
    let required = policy.required_artifacts(tier);
    if required.is_empty() {
        return Ok(Vec::new());
    }
    let mut texts: Vec<(String, String)> = Vec::new();
    if let Some(body) = pr_body {
        texts.push(("PR description".into(), body));
    }
    texts.extend(changeset::change_records(repo, merge_base, head_oid, head)?);
    let documents: Vec<Document<'_>> = texts
        .iter()
        .map(|(source, markdown)| Document { source, markdown })
        .collect();
    Ok(artifacts::check(
        &required,
        &documents,
        &Headings::default(),
    ))
}

/// Approvals needed for the tier, and those given on the pull request (none without one).
/// An approve comment counts for the head commit it names; commit dates decide nothing.
pub(super) fn approvals(
    policy: &Config,
    tier: Tier,
    pull: &dyn PullSource,
    (repo, base, head): (&Repo, git2::Oid, git2::Oid),
) -> Approvals {
    let tier_policy = (tier != Tier::SelfApproved)
        .then(|| policy.tier.get(tier))
        .flatten()
        .map(|t| t.get_ref());
    let required = tier_policy.map_or(if tier == Tier::SelfApproved { 0 } else { 1 }, |t| {
        *t.min_approvals.get_ref()
    });
    let mut approvals = Approvals {
        tier,
        required,
        approved_by: Vec::new(),
        missing: required,
        approvers: tier_policy
            .map(|t| t.approvers.iter().map(|a| a.get_ref().clone()).collect())
            .unwrap_or_default(),
        note: None,
        not_counted: Vec::new(),
    };
    if required == 0 {
        return approvals;
    }
    let Some(pr) = pull.pull() else {
        approvals.note = Some("no pull request context: approvals are read from GitHub when the gate runs on a pull request".into());
        return approvals;
    };
    let (reviews, comments) = match pull.approvals_given(pr.number) {
        Ok(given) => given,
        Err(error) => {
            approvals.note = Some(format!(
                "approvals could not be read, so none count: {error}"
            ));
            return approvals;
        }
    };
    let allow_stale = policy.policy.allows_stale_approvals();
    // With stale approvals allowed, an approve comment may name an earlier commit of the
    // pull request: one reachable from the head and not from the base (a bounded walk; a
    // walk that fails leaves only the head, which fails closed).
    let earlier: Vec<String> = if allow_stale {
        let raw = repo.raw();
        raw.revwalk()
            .and_then(|mut walk| {
                walk.push(head)?;
                walk.hide(base)?;
                Ok(walk
                    .take(10_000)
                    .filter_map(std::result::Result::ok)
                    .filter(|&c| c != head)
                    .map(|c| c.to_string())
                    .collect())
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let head = head.to_string();
    let tally = github::approvals::tally(
        &github::approvals::Inputs {
            approvers: &approvals.approvers,
            author: &pr.author,
            head_sha: &head,
            allow_stale,
            earlier_commits: &earlier,
            reviews: &reviews,
            comments: &comments,
        },
        |org, team, login| pull.membership(org, team, login),
    );
    approvals.missing = required.saturating_sub(tally.approved_by.len() as u32);
    approvals.approved_by = tally.approved_by;
    approvals.not_counted = tally.not_counted;
    approvals
}
