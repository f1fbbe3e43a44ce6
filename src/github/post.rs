//! What promptgate says on the pull request: one verdict comment, found by its marker among
//! every page of comments and only among those written by the account promptgate posts as
//! (so a forged marker is never taken for ours), updated in place with duplicates removed;
//! and the `promptgate` commit status on the head commit, linking to the run.

use serde::de::IgnoredAny;

use super::approvals::Comment;
use super::payload::{CommentBody, CommentPayload, StatusBody};
use super::{GithubError, Purpose, Session};
use crate::gate::{Report, Verdict};
use crate::report::markdown::MARKER;

pub const WRITE_COMMENT: Purpose = Purpose {
    action: "write the verdict comment",
    permission: "pull-requests: write",
};
const DELETE_COMMENT: Purpose = Purpose {
    action: "remove a duplicate verdict comment",
    permission: "pull-requests: write",
};
pub const WRITE_STATUS: Purpose = Purpose {
    action: "set the `promptgate` commit status",
    permission: "statuses: write",
};

/// The commit status's context.
pub const STATUS_CONTEXT: &str = "promptgate";
/// GitHub refuses status descriptions longer than this.
const MAX_DESCRIPTION: usize = 140;

/// What happened to the verdict comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created(u64),
    Updated(u64),
    Unchanged(u64),
}

/// Whether `comment` is a verdict comment promptgate wrote: by `login`, starting with the
/// marker.
pub fn is_ours(comment: &Comment, login: &str) -> bool {
    comment.login.eq_ignore_ascii_case(login) && comment.body.trim_start().starts_with(MARKER)
}

/// Creates or updates the verdict comment on pull request `number`; removes any duplicate.
/// Returns what happened and each duplicate that could not be removed.
pub fn upsert_comment(
    session: &Session,
    number: u64,
    body: &str,
) -> Result<(CommentOutcome, Vec<GithubError>), GithubError> {
    let login = session.own_login();
    let mut ours: Vec<&Comment> = session
        .comments(number)?
        .iter()
        .filter(|c| is_ours(c, &login))
        .collect();
    ours.sort_by_key(|c| c.id);
    let api = session.repo.api();
    let outcome = match ours.first() {
        Some(existing) if existing.body == body => CommentOutcome::Unchanged(existing.id),
        Some(existing) => {
            session.client.patch::<IgnoredAny>(
                &format!("{api}/issues/comments/{}", existing.id),
                &CommentBody { body },
                WRITE_COMMENT,
            )?;
            CommentOutcome::Updated(existing.id)
        }
        None => {
            let created: CommentPayload = session.client.post(
                &format!("{api}/issues/{number}/comments"),
                &CommentBody { body },
                WRITE_COMMENT,
            )?;
            CommentOutcome::Created(created.id.unwrap_or(0))
        }
    };
    let failures = ours
        .iter()
        .skip(1)
        .filter_map(|duplicate| {
            session
                .client
                .delete(
                    &format!("{api}/issues/comments/{}", duplicate.id),
                    DELETE_COMMENT,
                )
                .err()
        })
        .collect();
    Ok((outcome, failures))
}

/// Sets the `promptgate` status on `sha`.
pub fn set_status(session: &Session, sha: &str, report: &Report) -> Result<(), GithubError> {
    let status = StatusBody {
        state: status_state(report.verdict),
        description: status_description(report),
        context: STATUS_CONTEXT,
        target_url: session.env.run_url(&session.repo),
    };
    session
        .client
        .post::<IgnoredAny>(
            &format!("{}/statuses/{sha}", session.repo.api()),
            &status,
            WRITE_STATUS,
        )
        .map(|_| ())
}

/// pass → success, needs-signoff → pending, blocked → failure, error → error.
pub fn status_state(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "success",
        Verdict::NeedsSignoff => "pending",
        Verdict::Blocked => "failure",
        Verdict::Error => "error",
    }
}

/// The verdict and its first reason, under GitHub's 140-character limit.
pub fn status_description(report: &Report) -> String {
    let reasons = report.reasons.len();
    let text = match (report.verdict, report.reasons.first()) {
        (Verdict::Pass, _) => "pass: every rule holds".to_string(),
        (verdict, Some(first)) if reasons > 1 => {
            format!("{}: {first} (+{} more)", verdict.as_str(), reasons - 1)
        }
        (verdict, Some(first)) => format!("{}: {first}", verdict.as_str()),
        (verdict, None) => verdict.as_str().to_string(),
    };
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_DESCRIPTION {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{decide, Context};

    fn report(reasons: &[&str]) -> Report {
        let mut report = decide(Context::default(), Vec::new());
        report.verdict = Verdict::Blocked;
        report.reasons = reasons.iter().map(|r| r.to_string()).collect();
        report
    }

    #[test]
    fn descriptions_fit_in_140_characters() {
        let long = "surface `support`: min_pass_rate 0.8125 < 0.9 ".repeat(10);
        let description = status_description(&report(&[&long, "another"]));
        assert_eq!(description.chars().count(), 140);
        assert!(description.starts_with("blocked: surface `support`"));
        assert!(description.ends_with('…'));
        assert_eq!(
            status_description(&report(&["a\nb", "c"])),
            "blocked: a b (+1 more)"
        );
        let mut pass = report(&[]);
        pass.verdict = Verdict::Pass;
        assert_eq!(status_description(&pass), "pass: every rule holds");
    }

    #[test]
    fn only_marked_comments_by_the_posting_account_are_ours() {
        let comment = |login: &str, body: &str| Comment {
            id: 1,
            login: login.into(),
            body: body.into(),
            created_at: None,
            updated_at: None,
        };
        let body = format!("{MARKER}\n## promptgate: pass");
        assert!(is_ours(
            &comment("github-actions[bot]", &body),
            "GitHub-Actions[bot]"
        ));
        assert!(!is_ours(&comment("mallory", &body), "github-actions[bot]"));
        let quoted = format!("> {MARKER}\nlook at this");
        assert!(!is_ours(
            &comment("github-actions[bot]", &quoted),
            "github-actions[bot]"
        ));
    }
}
