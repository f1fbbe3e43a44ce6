//! The weekly review's GitHub issue: one issue per marker (an HTML comment in its body, e.g.
//! `<!-- promptgate-review 2026-W49 -->`), looked for among every page of the repository's
//! issues, open or closed, and only among those opened by the account promptgate posts as (so
//! a marker pasted into someone else's issue is never taken for ours); pull requests, which
//! GitHub lists with the issues, are skipped. The issue found is updated in place, else a new
//! one is opened.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::payload::{Loose, Object, UserPayload};
use super::{GithubError, Purpose, Session};

pub const READ_ISSUES: Purpose = Purpose {
    action: "list the repository's issues to find the review issue",
    permission: "issues: read",
};
pub const WRITE_ISSUE: Purpose = Purpose {
    action: "write the review issue",
    permission: "issues: write",
};

/// The issue promptgate wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedIssue {
    pub number: u64,
    /// The issue's page on GitHub.
    pub url: String,
    /// Opened by this call (else an existing issue was updated, or already said the same).
    pub created: bool,
}

/// An issue as `GET /repos/{repo}/issues` lists it, or the answer to opening or editing one.
#[derive(Debug, Default, Deserialize)]
struct IssuePayload {
    #[serde(default)]
    number: Loose<u64>,
    #[serde(default)]
    html_url: Loose<String>,
    #[serde(default)]
    title: Loose<String>,
    #[serde(default)]
    body: Loose<String>,
    #[serde(default)]
    user: Object<UserPayload>,
    /// Present (whatever it holds) when the entry is a pull request.
    #[serde(default)]
    pull_request: Loose<IgnoredAny>,
}

/// `POST …/issues` and `PATCH …/issues/{number}`.
#[derive(Debug, Serialize)]
struct IssueBody<'a> {
    title: &'a str,
    body: &'a str,
}

/// An issue that may be ours: its number, title, body and page.
struct Candidate {
    number: u64,
    title: String,
    body: String,
    url: Option<String>,
}

/// Opens the issue whose body carries `marker`, or updates the one already open or closed
/// (the oldest, if several), with `title` and `body`; `body` must contain `marker`.
pub fn upsert_issue(
    session: &Session,
    marker: &str,
    title: &str,
    body: &str,
) -> Result<PostedIssue, GithubError> {
    if marker.trim().is_empty() || !body.contains(marker) {
        return Err(GithubError {
            action: WRITE_ISSUE.action,
            status: None,
            problem: format!("the issue body does not carry its marker `{marker}`, so the next run could not find the issue and would open another"),
            fix: "this is a bug in promptgate; please report it".into(),
        });
    }
    let api = session.repo.api();
    let login = session.own_login();
    let listed: Vec<IssuePayload> = session
        .client
        .get_all(&format!("{api}/issues?state=all"), READ_ISSUES)
        .map_err(explain)?;
    let existing = listed
        .into_iter()
        .filter_map(|issue| candidate(issue, &login, marker))
        .min_by_key(|issue| issue.number);
    let content = IssueBody { title, body };
    let Some(existing) = existing else {
        let opened: IssuePayload = session
            .client
            .post(&format!("{api}/issues"), &content, WRITE_ISSUE)
            .map_err(explain)?;
        let number = opened.number.into_inner().ok_or_else(|| GithubError {
            action: WRITE_ISSUE.action,
            status: Some(201),
            problem: "GitHub opened the issue but its answer names no issue number".into(),
            fix: "check GITHUB_API_URL: it must be the API root (https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server)".into(),
        })?;
        return Ok(PostedIssue {
            number,
            url: opened
                .html_url
                .into_inner()
                .unwrap_or_else(|| issue_page(session, number)),
            created: true,
        });
    };
    let number = existing.number;
    let mut url = existing.url;
    if existing.title != title || existing.body != body {
        let edited: IssuePayload = session
            .client
            .patch(&format!("{api}/issues/{number}"), &content, WRITE_ISSUE)
            .map_err(explain)?;
        url = edited.html_url.into_inner().or(url);
    }
    Ok(PostedIssue {
        number,
        url: url.unwrap_or_else(|| issue_page(session, number)),
        created: false,
    })
}

/// A listed issue, when it is an issue (not a pull request) opened by `login` whose body
/// carries `marker`.
fn candidate(issue: IssuePayload, login: &str, marker: &str) -> Option<Candidate> {
    if issue.pull_request.0.is_some() {
        return None;
    }
    let author = UserPayload::login_of(issue.user.into_inner())?;
    let body = issue.body.into_inner()?;
    if !author.eq_ignore_ascii_case(login) || !body.contains(marker) {
        return None;
    }
    Some(Candidate {
        number: issue.number.into_inner()?,
        title: issue.title.into_inner().unwrap_or_default(),
        body,
        url: issue.html_url.into_inner(),
    })
}

/// `https://github.com/owner/name/issues/N`, for an answer without `html_url`.
fn issue_page(session: &Session, number: u64) -> String {
    format!(
        "{}/{}/issues/{number}",
        session.env.server_url.trim_end_matches('/'),
        session.repo
    )
}

/// GitHub's 410 for a repository with issues turned off, with its own fix.
fn explain(mut error: GithubError) -> GithubError {
    if error.status == Some(410) {
        error.fix = "issues are turned off for this repository: turn them on (Settings → General → Features → Issues), or run the review without `--post`".into();
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(json: &str) -> IssuePayload {
        serde_json::from_str::<Object<IssuePayload>>(json)
            .unwrap()
            .into_inner()
            .unwrap()
    }

    #[test]
    fn only_our_marked_issues_are_candidates() {
        let marker = "<!-- promptgate-review 2026-W49 -->";
        let ours = listed(
            r#"{"number": 3, "title": "Eval review 2026-W49", "body": "<!-- promptgate-review 2026-W49 -->\nhi", "user": {"login": "GitHub-Actions[bot]"}, "html_url": "https://github.com/o/r/issues/3"}"#,
        );
        let found = candidate(ours, "github-actions[bot]", marker).unwrap();
        assert_eq!(
            (found.number, found.title.as_str()),
            (3, "Eval review 2026-W49")
        );
        let pull = listed(
            r#"{"number": 4, "body": "<!-- promptgate-review 2026-W49 -->", "user": {"login": "github-actions[bot]"}, "pull_request": null}"#,
        );
        assert!(candidate(pull, "github-actions[bot]", marker).is_none());
        let forged = listed(
            r#"{"number": 5, "body": "<!-- promptgate-review 2026-W49 -->", "user": {"login": "mallory"}}"#,
        );
        assert!(candidate(forged, "github-actions[bot]", marker).is_none());
        let other_week = listed(
            r#"{"number": 6, "body": "<!-- promptgate-review 2026-W48 -->", "user": {"login": "github-actions[bot]"}}"#,
        );
        assert!(candidate(other_week, "github-actions[bot]", marker).is_none());
        let no_body =
            listed(r#"{"number": 7, "body": null, "user": {"login": "github-actions[bot]"}}"#);
        assert!(candidate(no_body, "github-actions[bot]", marker).is_none());
    }
}
