//! Where the change under review comes from: a pull request on GitHub (named by `--pr` or
//! the Actions event, read through the API when the event does not carry it; its commits
//! checked against the local clone; its reviews and approve comments), a push event's
//! commits, or nothing at all for a local run. The gate reads all of it through
//! [`PullSource`], so a test or a hook can hand it any source. With `--post`, the verdict
//! comment and commit status are written back to the pull request ([`post`]).

use crate::error::{Error, Result};
use crate::gate::Report;
use crate::git::Repo;
use crate::github::approvals::{Comment, Membership, Review};
use crate::github::{
    self, context, post as gh, Env, Event, GithubError, PullRequest, Repository, Session,
};

/// What the gate reads from where the change is reviewed.
pub trait PullSource {
    /// The pull request's number, when the run gates one.
    fn number(&self) -> Option<u64> {
        None
    }
    /// The pull request, when it could be read.
    fn pull(&self) -> Option<&PullRequest> {
        None
    }
    /// A push event's commits: (before, after).
    fn pushed(&self) -> Option<(Option<String>, Option<String>)> {
        None
    }
    /// Fails with the exact `git fetch` when a commit the pull request names (its base,
    /// its head: as asked) is not in the local clone.
    fn ensure_commits(&self, _repo: &Repo, _which: (bool, bool)) -> Result<()> {
        Ok(())
    }
    /// The reviews and comments given on pull request `number`.
    fn approvals_given(
        &self,
        _number: u64,
    ) -> std::result::Result<(Vec<Review>, Vec<Comment>), GithubError> {
        Ok((Vec::new(), Vec::new()))
    }
    /// Whether `login` is an active member of `org/team`.
    fn membership(&self, _org: &str, _team: &str, _login: &str) -> Membership {
        Membership::NotMember
    }
}

/// No pull request at all: a local gate (the pre-push hook, a release manager's re-run).
pub struct Local;

impl PullSource for Local {}

/// What the command line asks of GitHub.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// `--pr N`: gate this pull request (else the event's).
    pub pr: Option<u64>,
    /// `--repo OWNER/NAME`.
    pub repo: Option<String>,
    /// `--post`: a session is needed even without a pull request (to say so).
    pub post: bool,
}

/// The GitHub side of one `check` run.
pub struct GithubPull {
    pub env: Env,
    pub session: Option<Session>,
    pub number: Option<u64>,
    /// A `push` event's commits: (before, after).
    pub push: Option<(Option<String>, Option<String>)>,
    /// Why the pull request could not be read: the gate ends in `error` with it.
    pub problem: Option<Error>,
}

impl PullSource for GithubPull {
    fn number(&self) -> Option<u64> {
        self.number
    }
    fn pull(&self) -> Option<&PullRequest> {
        self.session.as_ref()?.pull.as_ref()
    }
    fn pushed(&self) -> Option<(Option<String>, Option<String>)> {
        self.push.clone()
    }
    fn ensure_commits(&self, repo: &Repo, which: (bool, bool)) -> Result<()> {
        match &self.session {
            Some(session) => ensure_commits(repo, session, which),
            None => Ok(()),
        }
    }
    fn approvals_given(
        &self,
        number: u64,
    ) -> std::result::Result<(Vec<Review>, Vec<Comment>), GithubError> {
        let Some(session) = &self.session else {
            return Ok((Vec::new(), Vec::new()));
        };
        Ok((session.reviews(number)?, session.comments(number)?.to_vec()))
    }
    fn membership(&self, org: &str, team: &str, login: &str) -> Membership {
        match &self.session {
            Some(session) => session.membership(org, team, login),
            None => Membership::NotMember,
        }
    }
}

/// Finds the pull request the run is about, reading it from the API when needed.
pub fn locate(env: Env, wanted: &Wanted, repo: Option<&Repo>) -> Result<GithubPull> {
    let mut pull = GithubPull {
        env: env.clone(),
        session: None,
        number: wanted.pr,
        push: None,
        problem: None,
    };
    let mut from_event = None;
    match context::read_event(&env) {
        Err(problem) => {
            pull.problem = Some(Error::from(github::GithubError {
                action: "read the workflow's event",
                status: None,
                problem,
                fix: "GITHUB_EVENT_PATH must name the event payload the runner wrote; outside Actions unset it".into(),
            }));
            return Ok(pull);
        }
        Ok(Some(Event::PullRequest(event))) if wanted.pr.is_none() => {
            pull.number = Some(event.number);
            from_event = Some(*event);
        }
        Ok(Some(Event::PullNumber(number))) if wanted.pr.is_none() => pull.number = Some(number),
        Ok(Some(Event::Push { before, after })) if wanted.pr.is_none() => {
            pull.push = Some((before, after));
        }
        Ok(_) => {}
    }
    if pull.number.is_none() && !wanted.post {
        return Ok(pull);
    }
    let repository = repository(wanted, &env, repo)?;
    let mut session = Session::new(env, repository, from_event)?;
    if let (Some(number), None) = (pull.number, &session.pull) {
        if let Err(error) = session.fetch_pull(number) {
            pull.problem = Some(Error::from(error));
        }
    }
    pull.session = Some(session);
    Ok(pull)
}

/// What `--post` did: a line per thing written, and every failure with its fix.
#[derive(Debug, Default)]
pub struct Posted {
    pub written: Vec<String>,
    pub failures: Vec<String>,
}

/// Writes the verdict comment (`markdown`) and the commit status on the pull request; a
/// failure of one never keeps the other from being tried.
pub fn post(pull: &GithubPull, report: &Report, markdown: &str) -> Posted {
    let mut posted = Posted::default();
    let Some(session) = &pull.session else {
        posted
            .failures
            .push("--post: nothing to post to: run on a pull request (or pass --pr N)".into());
        return posted;
    };
    if let Some(number) = pull.number {
        match gh::upsert_comment(session, number, markdown) {
            Ok((outcome, duplicates)) => {
                let what = match outcome {
                    gh::CommentOutcome::Created(_) => "written",
                    gh::CommentOutcome::Updated(_) => "updated",
                    gh::CommentOutcome::Unchanged(_) => "unchanged",
                };
                posted
                    .written
                    .push(format!("verdict comment {what} on #{number}"));
                posted
                    .failures
                    .extend(duplicates.iter().map(ToString::to_string));
            }
            Err(error) => posted.failures.push(error.to_string()),
        }
    }
    let head = report
        .head
        .clone()
        .or_else(|| pull.pull().map(|p| p.head_sha.clone()));
    match head {
        Some(sha) => match gh::set_status(session, &sha, report) {
            Ok(()) => posted.written.push(format!(
                "commit status `{}` is {} on {}",
                gh::STATUS_CONTEXT,
                gh::status_state(report.verdict),
                &sha[..sha.len().min(12)]
            )),
            Err(error) => posted.failures.push(error.to_string()),
        },
        None => posted.failures.push(
            "--post: the gate stopped before it knew the head commit, so no commit status was set"
                .into(),
        ),
    }
    posted
}

/// Said on an `error` verdict for a pull request from a fork.
pub fn fork_note(number: u64) -> String {
    format!("this pull request comes from a fork: GitHub gives workflows on fork pull requests no secrets and a read-only token, so the gate cannot run or post here; a maintainer can run `promptgate check --pr {number} --post` with the API keys, or push the branch to this repository")
}

/// `--repo`, else `GITHUB_REPOSITORY`, else the `origin` remote when it is on the server.
fn repository(wanted: &Wanted, env: &Env, repo: Option<&Repo>) -> Result<Repository> {
    let origin = repo.and_then(|r| r.remote_url("origin"));
    Repository::locate(wanted.repo.as_deref(), env, origin.as_deref())
        .map_err(Error::usage)?
        .ok_or_else(|| {
            Error::usage(
                "--pr and --post need the GitHub repository: pass --repo OWNER/NAME (or set GITHUB_REPOSITORY)",
            )
        })
}

/// Fails with the exact `git fetch` when a commit the pull request names is not local.
fn ensure_commits(repo: &Repo, session: &Session, (base, head): (bool, bool)) -> Result<()> {
    let Some(pull) = &session.pull else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut refspecs = Vec::new();
    if head && !repo.has_commit(&pull.head_sha) {
        missing.push(format!("the head of #{} ({})", pull.number, pull.head_sha));
        refspecs.push(format!("pull/{}/head", pull.number));
    }
    if base && !repo.has_commit(&pull.base_sha) {
        missing.push(format!("the base of #{} ({})", pull.number, pull.base_sha));
        refspecs.push(if pull.base_ref.is_empty() {
            pull.base_sha.clone()
        } else {
            pull.base_ref.clone()
        });
    }
    if missing.is_empty() {
        return Ok(());
    }
    let remote = match repo.remote_url("origin") {
        Some(_) => "origin".to_string(),
        None => format!(
            "{}/{}.git",
            session.env.server_url.trim_end_matches('/'),
            session.repo
        ),
    };
    Err(Error::MissingCommit {
        what: missing.join(" and "),
        fetch: format!("git fetch {remote} {}", refspecs.join(" ")),
        shallow: if repo.is_shallow() {
            "; this is a shallow clone: in Actions use actions/checkout with `fetch-depth: 0`"
                .into()
        } else {
            String::new()
        },
    })
}
