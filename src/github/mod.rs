//! GitHub: the pull request a run gates and everything said back to it. `context` reads
//! the Actions environment and event, `client` talks to the REST API (github.com or an
//! Enterprise Server), `approvals` counts who approved by the tier's rules, `post` keeps
//! the one verdict comment and the `promptgate` commit status, `issue` keeps the weekly
//! review's issue, `commits` finds the pull request a commit came from, and `actions`
//! writes the step summary, step outputs and annotations; `payload` holds the typed shapes
//! of the JSON read and written. [`Session`] ties them to one pull request.

pub mod actions;
pub mod approvals;
pub mod client;
pub mod commits;
pub mod context;
pub mod issue;
pub mod payload;
pub mod post;

use std::cell::OnceCell;

pub use client::{Client, GithubError, Purpose};
pub use context::{Env, Event, PullRequest, Repository};

use approvals::{Comment, Membership, Review};
use payload::{CommentPayload, MembershipPayload, PullRequestPayload, ReviewPayload, UserPayload};

pub const READ_PULL: Purpose = Purpose {
    action: "read the pull request",
    permission: "pull-requests: read",
};
pub const READ_REVIEWS: Purpose = Purpose {
    action: "read the pull request's reviews",
    permission: "pull-requests: read",
};
pub const READ_COMMENTS: Purpose = Purpose {
    action: "read the pull request's comments",
    permission: "pull-requests: read",
};
pub const READ_TEAM: Purpose = Purpose {
    action: "read team membership",
    permission: "members: read (an organization permission the workflow's GITHUB_TOKEN cannot have: pass a GitHub App token with organization Members: read, or a token with read:org, as `github-token`)",
};
pub const READ_USER: Purpose = Purpose {
    action: "identify the account promptgate posts as",
    permission: "pull-requests: write",
};

/// The account the workflow's own token posts as.
pub const ACTIONS_LOGIN: &str = "github-actions[bot]";

/// One pull request (or, without one, one repository) on GitHub, with a client for it.
pub struct Session {
    pub env: Env,
    pub client: Client,
    pub repo: Repository,
    pub pull: Option<PullRequest>,
    comments: OnceCell<Vec<Comment>>,
}

impl Session {
    pub fn new(
        env: Env,
        repo: Repository,
        pull: Option<PullRequest>,
    ) -> Result<Session, GithubError> {
        let client = Client::new(&env.api_url, env.token.clone())?;
        Ok(Session {
            env,
            client,
            repo,
            pull,
            comments: OnceCell::new(),
        })
    }

    /// A session on the repository `--repo` (`flag`) names, else `GITHUB_REPOSITORY`, else
    /// the `origin` remote on the server; `what` names the flag that needs it.
    pub fn for_repository(
        env: Env,
        flag: Option<&str>,
        origin_url: Option<&str>,
        what: &str,
    ) -> Result<Session, crate::error::Error> {
        use crate::error::Error;
        let repository = Repository::locate(flag, &env, origin_url)
            .map_err(Error::usage)?
            .ok_or_else(|| {
                Error::usage(format!("{what} needs the GitHub repository: pass --repo OWNER/NAME (or set GITHUB_REPOSITORY)"))
            })?;
        Ok(Session::new(env, repository, None)?)
    }

    /// Reads pull request `number` from the API.
    pub fn fetch_pull(&mut self, number: u64) -> Result<&PullRequest, GithubError> {
        let payload: PullRequestPayload = self
            .client
            .get(&format!("{}/pulls/{number}", self.repo.api()), READ_PULL)?;
        let pull = PullRequest::from_payload(payload).map_err(|problem| GithubError {
            action: READ_PULL.action,
            status: Some(200),
            problem,
            fix: "check GITHUB_API_URL: it must be the API root".into(),
        })?;
        Ok(self.pull.insert(pull))
    }

    /// Every comment on the pull request (all pages), read once per run.
    pub fn comments(&self, number: u64) -> Result<&[Comment], GithubError> {
        if let Some(comments) = self.comments.get() {
            return Ok(comments);
        }
        let payloads: Vec<CommentPayload> = self.client.get_all(
            &format!("{}/issues/{number}/comments", self.repo.api()),
            READ_COMMENTS,
        )?;
        let comments = payloads
            .into_iter()
            .filter_map(Comment::from_payload)
            .collect();
        Ok(self.comments.get_or_init(|| comments))
    }

    pub fn reviews(&self, number: u64) -> Result<Vec<Review>, GithubError> {
        let payloads: Vec<ReviewPayload> = self.client.get_all(
            &format!("{}/pulls/{number}/reviews", self.repo.api()),
            READ_REVIEWS,
        )?;
        Ok(payloads
            .into_iter()
            .filter_map(Review::from_payload)
            .collect())
    }

    /// Whether `login` is an active member of `org/team`, as far as the token can see.
    pub fn membership(&self, org: &str, team: &str, login: &str) -> Membership {
        let path = format!("/orgs/{org}/teams/{team}/memberships/{login}");
        match self.client.get::<MembershipPayload>(&path, READ_TEAM) {
            Ok(membership) => match membership.state.as_deref() {
                Some("active") => Membership::Member,
                _ => Membership::NotMember,
            },
            Err(e) if e.status == Some(404) => Membership::NotMember,
            Err(e) => Membership::Unreadable(match e.status {
                Some(status @ (401 | 403)) => format!(
                    "GitHub answered {status}: the token cannot read the team; the workflow's GITHUB_TOKEN cannot read organization teams, so pass a GitHub App token with organization permission Members: read (or a token with read:org) as `github-token`"
                ),
                _ => e.problem,
            }),
        }
    }

    /// The login promptgate's comments are written by: `PROMPTGATE_GITHUB_LOGIN`, else the
    /// token's user, else (an installation token, which cannot ask) the Actions bot.
    pub fn own_login(&self) -> String {
        if let Some(login) = &self.env.login {
            return login.clone();
        }
        self.client
            .get::<UserPayload>("/user", READ_USER)
            .ok()
            .and_then(|user| user.login)
            .unwrap_or_else(|| ACTIONS_LOGIN.to_string())
    }
}
