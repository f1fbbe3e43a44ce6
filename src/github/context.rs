//! Where a run stands on GitHub: the Actions environment (`GITHUB_*` variables) and the
//! event that started the workflow, read tolerantly (real payloads lack fields GitHub's
//! schema lists, and events other than pull requests carry no PR at all).

use std::path::PathBuf;

use super::client::DEFAULT_API_URL;
use super::payload::{
    BranchPayload, EventPayload, Loose, Object, PullRequestPayload, RepoPayload, UserPayload,
};

/// The `GITHUB_*` environment of a run, all of it optional outside Actions.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `GITHUB_ACTIONS=true`: annotations, outputs and the step summary are written.
    pub actions: bool,
    pub event_name: Option<String>,
    pub event_path: Option<PathBuf>,
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: Option<String>,
    pub api_url: String,
    pub server_url: String,
    pub run_id: Option<String>,
    pub token: Option<String>,
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub runner_temp: Option<PathBuf>,
    /// `PROMPTGATE_GITHUB_LOGIN`: the account promptgate posts as, when GitHub cannot say
    /// (an installation token other than the Actions one).
    pub login: Option<String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Env {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Env {
            actions: set("GITHUB_ACTIONS").as_deref() == Some("true"),
            event_name: set("GITHUB_EVENT_NAME"),
            event_path: set("GITHUB_EVENT_PATH").map(PathBuf::from),
            repository: set("GITHUB_REPOSITORY"),
            api_url: set("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()),
            server_url: set("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            run_id: set("GITHUB_RUN_ID"),
            token: set("GITHUB_TOKEN").or_else(|| set("GH_TOKEN")),
            step_summary: set("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: set("GITHUB_OUTPUT").map(PathBuf::from),
            runner_temp: set("RUNNER_TEMP").map(PathBuf::from),
            login: set("PROMPTGATE_GITHUB_LOGIN"),
        }
    }

    /// The page of this workflow run, for the commit status's link.
    pub fn run_url(&self, repo: &Repository) -> Option<String> {
        self.run_id.as_ref().map(|id| {
            format!(
                "{}/{}/actions/runs/{id}",
                self.server_url.trim_end_matches('/'),
                repo
            )
        })
    }
}

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub owner: String,
    pub name: String,
}

impl Repository {
    pub fn parse(text: &str) -> Option<Repository> {
        let (owner, name) = text.trim().split_once('/')?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && s != "."
                && s != ".."
        };
        (valid(owner) && valid(name)).then(|| Repository {
            owner: owner.into(),
            name: name.trim_end_matches(".git").into(),
        })
    }

    /// The repository a command talks to: `--repo` (`flag`) when given, else
    /// `GITHUB_REPOSITORY`, else the `origin` remote when it is on the server. `Err` says
    /// a `--repo` is not `OWNER/NAME`; `Ok(None)`: nothing names one.
    pub fn locate(
        flag: Option<&str>,
        env: &Env,
        origin_url: Option<&str>,
    ) -> Result<Option<Repository>, String> {
        if let Some(text) = flag {
            return Repository::parse(text)
                .map(Some)
                .ok_or_else(|| format!("--repo `{text}` is not OWNER/NAME"));
        }
        Ok(env
            .repository
            .as_deref()
            .and_then(Repository::parse)
            .or_else(|| Repository::from_remote_url(origin_url?, &env.server_url)))
    }

    /// `owner/name` from a remote URL on `server` (https or ssh form).
    pub fn from_remote_url(url: &str, server_url: &str) -> Option<Repository> {
        let host = server_url
            .split_once("://")
            .map_or(server_url, |(_, h)| h)
            .trim_end_matches('/');
        let path = url
            .strip_prefix(&format!("https://{host}/"))
            .or_else(|| url.strip_prefix(&format!("http://{host}/")))
            .or_else(|| url.strip_prefix(&format!("git@{host}:")))
            .or_else(|| url.strip_prefix(&format!("ssh://git@{host}/")))?;
        Repository::parse(path.trim_end_matches('/'))
    }

    /// The API path of this repository, `/repos/owner/name`.
    pub fn api(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The parts of a pull request the gate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub base_sha: String,
    pub base_ref: String,
    pub head_sha: String,
    pub head_ref: String,
    pub body: String,
    pub author: String,
    /// `owner/name` of the head's repository, when the payload says.
    pub head_repo: Option<String>,
    pub base_repo: Option<String>,
}

impl PullRequest {
    /// From a pull request object (an event's `pull_request` or the API's answer). Only the
    /// number and both SHAs are required; everything else may be missing.
    pub fn from_payload(payload: PullRequestPayload) -> Result<PullRequest, String> {
        let number = payload.number.ok_or("the pull request has no `number`")?;
        let sha = |side: &str, branch: Option<&BranchPayload>| {
            branch
                .and_then(|b| b.sha.clone())
                .filter(|s| is_sha(s))
                .ok_or_else(|| format!("pull request #{number} has no `{side}.sha`"))
        };
        let base_sha = sha("base", payload.base.as_ref())?;
        let head_sha = sha("head", payload.head.as_ref())?;
        let (base, head) = (
            payload.base.unwrap_or_default(),
            payload.head.unwrap_or_default(),
        );
        let full_name = |repo: Option<RepoPayload>| repo.and_then(|r| r.full_name);
        Ok(PullRequest {
            number,
            base_sha,
            head_sha,
            base_ref: base.branch.unwrap_or_default(),
            head_ref: head.branch.unwrap_or_default(),
            body: payload.body.unwrap_or_default(),
            author: UserPayload::login_of(payload.user).unwrap_or_default(),
            head_repo: full_name(head.repo),
            base_repo: full_name(base.repo),
        })
    }

    /// Whether the head lives in another repository (a fork): its workflows get no secrets
    /// and a read-only token.
    pub fn is_fork(&self) -> bool {
        match (&self.head_repo, &self.base_repo) {
            (Some(head), Some(base)) => !head.eq_ignore_ascii_case(base),
            _ => false,
        }
    }
}

/// What the triggering event tells the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `pull_request`, `pull_request_target`, `pull_request_review`…: the PR as the payload
    /// has it.
    PullRequest(Box<PullRequest>),
    /// `issue_comment` on a pull request, or `workflow_dispatch` with a PR input: the PR
    /// must be read from the API.
    PullNumber(u64),
    /// `push`: the commits before and after (before is absent for a new branch).
    Push {
        before: Option<String>,
        after: Option<String>,
    },
    /// Anything else: no pull request.
    Other,
}

/// The event, from `GITHUB_EVENT_PATH`; `None` outside Actions.
pub fn read_event(env: &Env) -> Result<Option<Event>, String> {
    let Some(path) = &env.event_path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the event payload {} (GITHUB_EVENT_PATH): {e}",
            path.display()
        )
    })?;
    let payload = EventPayload::parse(&text).map_err(|e| {
        format!(
            "the event payload {} (GITHUB_EVENT_PATH) is not JSON: {e}",
            path.display()
        )
    })?;
    parse_event(env.event_name.as_deref(), payload)
        .map(Some)
        .map_err(|e| format!("{e} (event payload {})", path.display()))
}

/// The event from its name and payload. An unknown name is read by the payload's shape.
pub fn parse_event(name: Option<&str>, payload: EventPayload) -> Result<Event, String> {
    let name = name.unwrap_or_else(|| guess_name(&payload));
    match name {
        "pull_request"
        | "pull_request_target"
        | "pull_request_review"
        | "pull_request_review_comment" => match payload.pull_request {
            Some(pull) => PullRequest::from_payload(pull.into_inner().unwrap_or_default())
                .map(|p| Event::PullRequest(Box::new(p))),
            None => Err(format!("a `{name}` event without `pull_request`")),
        },
        "issue_comment" => {
            let issue = payload
                .issue
                .and_then(Object::into_inner)
                .unwrap_or_default();
            match issue.number {
                Some(number) if issue.pull_request.is_some() => Ok(Event::PullNumber(number)),
                _ => Ok(Event::Other),
            }
        }
        "workflow_dispatch" | "repository_dispatch" => Ok(dispatch_pull(payload)
            .map(Event::PullNumber)
            .unwrap_or(Event::Other)),
        "push" => {
            let sha = |commit: Option<Loose<String>>| {
                commit
                    .and_then(Loose::into_inner)
                    .filter(|s| is_sha(s) && s.bytes().any(|b| b != b'0'))
            };
            Ok(Event::Push {
                before: sha(payload.before),
                after: sha(payload.after),
            })
        }
        _ => Ok(Event::Other),
    }
}

/// The PR number a manual run names in its inputs (`pr`, `pull_request`, `pr_number`…);
/// a `repository_dispatch`'s `client_payload` is read only when there are no `inputs`.
fn dispatch_pull(payload: EventPayload) -> Option<u64> {
    let inputs = match payload.inputs {
        Some(inputs) => inputs.into_inner(),
        None => payload.client_payload,
    };
    inputs?.pull_number()
}

fn guess_name(payload: &EventPayload) -> &'static str {
    if payload.pull_request.is_some() {
        "pull_request"
    } else if payload.comment.is_some() && payload.issue.is_some() {
        "issue_comment"
    } else if payload.before.is_some() && payload.after.is_some() {
        "push"
    } else if payload.inputs.is_some() {
        "workflow_dispatch"
    } else {
        "unknown"
    }
}

/// A full hexadecimal object name.
pub fn is_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    /// The event as the runner's file would hold `payload`.
    fn parse_event(name: Option<&str>, payload: &serde_json::Value) -> Result<Event, String> {
        super::parse_event(name, EventPayload::parse(&payload.to_string()).unwrap())
    }

    fn pull_request(payload: serde_json::Value) -> Result<PullRequest, String> {
        PullRequest::from_payload(serde_json::from_value(payload).unwrap())
    }

    #[test]
    fn a_pull_request_payload_needs_only_number_and_shas() {
        let event = parse_event(
            Some("pull_request"),
            &json!({"pull_request": {"number": 7, "base": {"sha": A}, "head": {"sha": B}}}),
        )
        .unwrap();
        let Event::PullRequest(pr) = event else {
            panic!("{event:?}")
        };
        assert_eq!(
            (pr.number, pr.base_sha.as_str(), pr.head_sha.as_str()),
            (7, A, B)
        );
        assert_eq!((pr.body.as_str(), pr.author.as_str()), ("", ""));
        assert!(!pr.is_fork());
        let err = parse_event(
            Some("pull_request"),
            &json!({"pull_request": {"number": 7}}),
        );
        assert_eq!(err.unwrap_err(), "pull request #7 has no `base.sha`");
    }

    #[test]
    fn forks_comments_dispatches_and_pushes() {
        let pr = pull_request(json!({"number": 1, "base": {"sha": A, "repo": {"full_name": "o/r"}}, "head": {"sha": B, "repo": {"full_name": "fork/r"}}})).unwrap();
        assert!(pr.is_fork());
        let comment = json!({"issue": {"number": 9, "pull_request": {"url": "x"}}, "comment": {}});
        assert_eq!(parse_event(None, &comment), Ok(Event::PullNumber(9)));
        let on_issue = json!({"issue": {"number": 9}, "comment": {}});
        assert_eq!(
            parse_event(Some("issue_comment"), &on_issue),
            Ok(Event::Other)
        );
        let dispatch = json!({"inputs": {"pr": "#12"}});
        assert_eq!(
            parse_event(Some("workflow_dispatch"), &dispatch),
            Ok(Event::PullNumber(12))
        );
        assert_eq!(
            parse_event(Some("workflow_dispatch"), &json!({})),
            Ok(Event::Other)
        );
        let new_branch = json!({"before": "0000000000000000000000000000000000000000", "after": B});
        assert_eq!(
            parse_event(Some("push"), &new_branch),
            Ok(Event::Push {
                before: None,
                after: Some(B.into())
            })
        );
    }

    #[test]
    fn repositories_from_names_and_remotes() {
        let repo = Repository::parse("octo-org/hello.world").unwrap();
        assert_eq!(repo.api(), "/repos/octo-org/hello.world");
        assert_eq!(Repository::parse("nope"), None);
        assert_eq!(Repository::parse("a/../b"), None);
        for url in [
            "https://github.com/o/r.git",
            "git@github.com:o/r.git",
            "ssh://git@github.com/o/r",
        ] {
            assert_eq!(
                Repository::from_remote_url(url, "https://github.com"),
                Repository::parse("o/r"),
                "{url}"
            );
        }
        assert_eq!(
            Repository::from_remote_url("https://gitlab.com/o/r", "https://github.com"),
            None
        );
    }
}
