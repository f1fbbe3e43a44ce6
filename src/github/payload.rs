//! The shapes of the JSON promptgate reads from GitHub and writes to it: the workflow's
//! event payload (`pull_request`, `issue_comment`, `push`, dispatch events), the REST
//! answers (a pull request, issue comments, reviews, a team membership, the token's user,
//! an error body) and the bodies it sends (a comment, a commit status). Reading is
//! tolerant, as real payloads lack fields GitHub's schema lists: unknown fields are
//! ignored, and a missing field — or one of another type — reads as `None`. What a caller
//! cannot do without is checked where a payload becomes a domain type, with a message that
//! names the payload and the field.

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};

/// A value read as `T` when it has `T`'s shape, else as absent; reading it never fails on
/// well-formed JSON (so one odd field cannot hide the rest of a payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loose<T>(pub Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Buffered first: a value that is not a `T` is dropped, not an error, and an object
        // with a repeated key keeps the last one, as GitHub's own parsers do.
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Loose(T::deserialize(value).ok()))
    }
}

impl<T> Loose<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

/// A JSON object read as `T`, anything else as absent: the payload structs are read only
/// from objects (serde would also fill a struct from an array, by position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub Option<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Object(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Object(if value.is_object() {
            T::deserialize(value).ok()
        } else {
            None
        }))
    }
}

impl<T> Object<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

/// A field read as `T`, or `None` when it is missing or of another shape.
fn loose<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Loose::<T>::deserialize(d).map(Loose::into_inner)
}

/// A field holding an object, read as `T`, or `None` when it is missing or not an object.
fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Object::<T>::deserialize(d).map(Object::into_inner)
}

/// A field whose presence matters (`null` included), read as `T`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The event file the runner writes at `GITHUB_EVENT_PATH`: the fields of every event
/// promptgate reads, each present only in some events.
#[derive(Debug, Default, Deserialize)]
pub struct EventPayload {
    /// `pull_request*` events: the pull request.
    #[serde(default, deserialize_with = "present")]
    pub pull_request: Option<Object<PullRequestPayload>>,
    /// `issue_comment`: the issue (a pull request when it has `pull_request`).
    #[serde(default, deserialize_with = "present")]
    pub issue: Option<Object<IssuePayload>>,
    /// `issue_comment`: the comment (only its presence is read).
    #[serde(default, deserialize_with = "present")]
    pub comment: Option<IgnoredAny>,
    /// `push`: the commit before (all zeros for a new branch).
    #[serde(default, deserialize_with = "present")]
    pub before: Option<Loose<String>>,
    /// `push`: the commit pushed.
    #[serde(default, deserialize_with = "present")]
    pub after: Option<Loose<String>>,
    /// `workflow_dispatch`: the run's inputs.
    #[serde(default, deserialize_with = "present")]
    pub inputs: Option<Object<DispatchInputs>>,
    /// `repository_dispatch`: what the sender passed.
    #[serde(default, deserialize_with = "object")]
    pub client_payload: Option<DispatchInputs>,
}

impl EventPayload {
    /// Reads an event file's text; only text that is not JSON is an error.
    pub fn parse(text: &str) -> Result<EventPayload, serde_json::Error> {
        serde_json::from_str::<Object<EventPayload>>(text).map(|e| e.0.unwrap_or_default())
    }
}

/// `issue` in an `issue_comment` event.
#[derive(Debug, Default, Deserialize)]
pub struct IssuePayload {
    #[serde(default, deserialize_with = "loose")]
    pub number: Option<u64>,
    /// Present (whatever it holds) when the issue is a pull request.
    #[serde(default, deserialize_with = "present")]
    pub pull_request: Option<IgnoredAny>,
}

/// The pull request a manual run names, under any of the input names workflows use, in
/// the order they are tried.
#[derive(Debug, Default, Deserialize)]
pub struct DispatchInputs {
    #[serde(default, deserialize_with = "loose")]
    pub pr: Option<PullNumber>,
    #[serde(default, deserialize_with = "loose")]
    pub pull_request: Option<PullNumber>,
    #[serde(default, deserialize_with = "loose")]
    pub pr_number: Option<PullNumber>,
    #[serde(default, rename = "pull-request", deserialize_with = "loose")]
    pub pull_request_dashed: Option<PullNumber>,
    #[serde(default, deserialize_with = "loose")]
    pub pull_number: Option<PullNumber>,
    #[serde(default, deserialize_with = "loose")]
    pub number: Option<PullNumber>,
}

impl DispatchInputs {
    /// The first input that names a pull request.
    pub fn pull_number(&self) -> Option<u64> {
        [
            &self.pr,
            &self.pull_request,
            &self.pr_number,
            &self.pull_request_dashed,
            &self.pull_number,
            &self.number,
        ]
        .into_iter()
        .find_map(|n| n.as_ref().map(|n| n.0))
    }
}

/// A pull request number as an input gives it: `12`, `"12"` or `"#12"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumberOrText")]
pub struct PullNumber(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

impl TryFrom<NumberOrText> for PullNumber {
    type Error = std::num::ParseIntError;

    fn try_from(value: NumberOrText) -> Result<Self, Self::Error> {
        match value {
            NumberOrText::Number(n) => Ok(PullNumber(n)),
            NumberOrText::Text(s) => s.trim().trim_start_matches('#').parse().map(PullNumber),
        }
    }
}

/// A pull request: an event's `pull_request`, or `GET /repos/{repo}/pulls/{number}`.
#[derive(Debug, Default, Deserialize)]
pub struct PullRequestPayload {
    #[serde(default, deserialize_with = "loose")]
    pub number: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    pub base: Option<BranchPayload>,
    #[serde(default, deserialize_with = "object")]
    pub head: Option<BranchPayload>,
    #[serde(default, deserialize_with = "loose")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub user: Option<UserPayload>,
}

/// A pull request's `base` or `head`.
#[derive(Debug, Default, Deserialize)]
pub struct BranchPayload {
    #[serde(default, deserialize_with = "loose")]
    pub sha: Option<String>,
    #[serde(default, rename = "ref", deserialize_with = "loose")]
    pub branch: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub repo: Option<RepoPayload>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RepoPayload {
    /// `owner/name`.
    #[serde(default, deserialize_with = "loose")]
    pub full_name: Option<String>,
}

/// An account: a comment's or review's `user`, or `GET /user`.
#[derive(Debug, Default, Deserialize)]
pub struct UserPayload {
    #[serde(default, deserialize_with = "loose")]
    pub login: Option<String>,
}

impl UserPayload {
    /// The login of an optional user (`None` for a deleted account, which GitHub sends as
    /// `user: null`).
    pub fn login_of(user: Option<UserPayload>) -> Option<String> {
        user.and_then(|u| u.login)
    }
}

/// An issue comment: `GET /repos/{repo}/issues/{number}/comments` (each), or the answer to
/// creating one.
#[derive(Debug, Default, Deserialize)]
pub struct CommentPayload {
    #[serde(default, deserialize_with = "loose")]
    pub id: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    pub user: Option<UserPayload>,
    #[serde(default, deserialize_with = "loose")]
    pub body: Option<String>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "loose")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub updated_at: Option<String>,
}

/// A pull request review: `GET /repos/{repo}/pulls/{number}/reviews` (each).
#[derive(Debug, Default, Deserialize)]
pub struct ReviewPayload {
    #[serde(default, deserialize_with = "object")]
    pub user: Option<UserPayload>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    #[serde(default, deserialize_with = "loose")]
    pub state: Option<String>,
    /// The commit the review was given on.
    #[serde(default, deserialize_with = "loose")]
    pub commit_id: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub submitted_at: Option<String>,
}

/// `GET /orgs/{org}/teams/{team}/memberships/{login}`.
#[derive(Debug, Default, Deserialize)]
pub struct MembershipPayload {
    /// `active` or `pending`.
    #[serde(default, deserialize_with = "loose")]
    pub state: Option<String>,
}

/// The body of a refused request.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorPayload {
    #[serde(default, deserialize_with = "loose")]
    pub message: Option<String>,
    /// A 422's details.
    #[serde(default, deserialize_with = "loose")]
    pub errors: Option<Vec<ErrorDetail>>,
}

/// One entry of a 422's `errors`: a sentence, an object with a `message`, or anything else.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ErrorDetail {
    Text(String),
    Described { message: String },
    Other(serde_json::Value),
}

impl std::fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorDetail::Text(text) | ErrorDetail::Described { message: text } => f.write_str(text),
            ErrorDetail::Other(value) => write!(f, "{value}"),
        }
    }
}

/// `POST …/issues/{number}/comments` and `PATCH …/issues/comments/{id}`.
#[derive(Debug, Serialize)]
pub struct CommentBody<'a> {
    pub body: &'a str,
}

/// `POST …/statuses/{sha}`.
#[derive(Debug, Serialize)]
pub struct StatusBody<'a> {
    pub state: &'a str,
    pub description: String,
    pub context: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_fields_read_as_absent_and_leave_the_rest() {
        let pull: Object<PullRequestPayload> = serde_json::from_str(
            r#"{"number": 7, "body": 5, "user": null, "head": {"sha": "x", "ref": 1}, "extra": [1]}"#,
        )
        .unwrap();
        let pull = pull.0.unwrap();
        assert_eq!(pull.number, Some(7));
        assert_eq!((pull.body, pull.user.is_none()), (None, true));
        let head = pull.head.unwrap();
        assert_eq!((head.sha.as_deref(), head.branch), (Some("x"), None));
        let not_an_object: Object<PullRequestPayload> = serde_json::from_str("[7]").unwrap();
        assert!(not_an_object.0.is_none());
    }

    #[test]
    fn presence_counts_null_and_repeated_keys_keep_the_last() {
        let event = EventPayload::parse(r#"{"pull_request": null, "before": 1}"#).unwrap();
        assert!(matches!(event.pull_request, Some(Object(None))));
        assert!(matches!(event.before, Some(Loose(None))));
        assert!(event.after.is_none());
        let event = EventPayload::parse(r#"{"after": "a", "after": "b"}"#).unwrap();
        assert_eq!(
            event.after.and_then(Loose::into_inner).as_deref(),
            Some("b")
        );
        assert!(EventPayload::parse("[]").is_ok());
        assert!(EventPayload::parse("{").is_err());
    }

    #[test]
    fn dispatch_inputs_name_the_pull_request_in_order() {
        let inputs: DispatchInputs =
            serde_json::from_str(r#"{"number": 3, "pr": "oops", "pull-request": " #12 "}"#)
                .unwrap();
        assert_eq!(inputs.pull_number(), Some(12));
        let details: ErrorPayload = serde_json::from_str(
            r#"{"message": "Validation Failed", "errors": ["a", {"message": "b"}, {"code": "c"}]}"#,
        )
        .unwrap();
        let shown: Vec<String> = details
            .errors
            .unwrap()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(shown, ["a", "b", r#"{"code":"c"}"#]);
    }
}
