//! The pull request a commit came from, asked of the API (`GET …/commits/{sha}/pulls`,
//! "List pull requests associated with a commit") for a commit whose message names none: a
//! rebase merge, or a squash message edited by hand.

use serde::Deserialize;

use super::payload::Loose;
use super::{GithubError, Purpose, Session};

pub const READ_COMMIT_PULLS: Purpose = Purpose {
    action: "list the pull requests a commit belongs to",
    permission: "pull-requests: read",
};

/// A pull request as the list gives it; only what is read.
#[derive(Debug, Default, Deserialize)]
struct CommitPullPayload {
    #[serde(default)]
    number: Loose<u64>,
    #[serde(default)]
    title: Loose<String>,
    #[serde(default)]
    merge_commit_sha: Loose<String>,
    #[serde(default)]
    merged_at: Loose<String>,
}

/// The merged pull request `sha` came from: the one whose merge commit is `sha`, else the
/// first merged one; its number and title. `None` when GitHub knows none.
pub fn pull_of_commit(session: &Session, sha: &str) -> Result<Option<(u64, String)>, GithubError> {
    let listed: Vec<CommitPullPayload> = session.client.get_all(
        &format!("{}/commits/{sha}/pulls", session.repo.api()),
        READ_COMMIT_PULLS,
    )?;
    Ok(pick(listed, sha))
}

/// The pull request that merged as `sha`, else the first merged one.
fn pick(listed: Vec<CommitPullPayload>, sha: &str) -> Option<(u64, String)> {
    let merged: Vec<CommitPullPayload> = listed
        .into_iter()
        .filter(|p| p.merged_at.0.is_some() && p.number.0.is_some())
        .collect();
    let index = merged
        .iter()
        .position(|p| {
            p.merge_commit_sha
                .0
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(sha))
        })
        .unwrap_or(0);
    let pull = merged.into_iter().nth(index)?;
    Some((
        pull.number.into_inner()?,
        pull.title.into_inner().unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(json: &str) -> Vec<CommitPullPayload> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_pull_that_merged_as_the_commit_wins() {
        let sha = "abc";
        let pulls = listed(
            r#"[{"number": 3, "title": "Open one", "merged_at": null},
                {"number": 4, "title": "Earlier", "merged_at": "2026-11-20T10:00:00Z", "merge_commit_sha": "def"},
                {"number": 9, "title": "Friendlier tone", "merged_at": "2026-11-27T10:00:00Z", "merge_commit_sha": "ABC"}]"#,
        );
        assert_eq!(pick(pulls, sha), Some((9, "Friendlier tone".into())));
        let pulls = listed(
            r#"[{"number": 3, "merged_at": null},
                {"number": 4, "title": "Earlier", "merged_at": "2026-11-20T10:00:00Z", "merge_commit_sha": "def"}]"#,
        );
        assert_eq!(pick(pulls, sha), Some((4, "Earlier".into())));
        assert_eq!(
            pick(listed(r#"[{"number": 3, "merged_at": null}]"#), sha),
            None
        );
        assert_eq!(pick(listed("[]"), sha), None);
    }
}
