//! `check`'s GitHub side: which pull request (or pushed commits) the run gates — from
//! `--pr`, or the Actions event — read through the API when the event does not carry it;
//! the commits it names checked against the local clone; and, with `--post`, the verdict
//! comment and commit status written back, every failure said loudly with its fix.

use crate::error::{Error, Result};
use crate::gate::Report;
use crate::git::Repo;
use crate::github::{self, actions, context, post, Env, Event, PullRequest, Repository, Session};

use super::CheckArgs;

/// The GitHub side of one `check` run.
pub(super) struct Pull {
    pub env: Env,
    pub session: Option<Session>,
    pub number: Option<u64>,
    /// A `push` event's commits: (before, after).
    pub push: Option<(Option<String>, Option<String>)>,
    /// Why the pull request could not be read: the gate ends in `error` with it.
    pub problem: Option<Error>,
}

impl Pull {
    /// No GitHub at all: a local gate (the pre-push hook).
    pub fn local() -> Pull {
        Pull {
            env: Env::default(),
            session: None,
            number: None,
            push: None,
            problem: None,
        }
    }

    pub fn pull(&self) -> Option<&PullRequest> {
        self.session.as_ref()?.pull.as_ref()
    }

    /// The range to gate: explicit flags first, then the pull request, then a push event.
    pub fn range(&self, args: &CheckArgs) -> (Option<String>, String) {
        let pull = self.pull();
        let push = self.push.as_ref();
        let base = args
            .range
            .base
            .clone()
            .or_else(|| pull.map(|p| p.base_sha.clone()))
            .or_else(|| push.and_then(|(before, _)| before.clone()));
        let head = args
            .range
            .head
            .clone()
            .or_else(|| pull.map(|p| p.head_sha.clone()))
            .or_else(|| push.and_then(|(_, after)| after.clone()))
            .unwrap_or_else(|| "HEAD".into());
        (base, head)
    }
}

/// Finds the pull request the run is about, reading it from the API when needed.
pub(super) fn locate(args: &CheckArgs, repo: Option<&Repo>) -> Result<Pull> {
    let env = Env::from_process();
    let mut pull = Pull {
        env: env.clone(),
        session: None,
        number: args.pr,
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
        Ok(Some(Event::PullRequest(event))) if args.pr.is_none() => {
            pull.number = Some(event.number);
            from_event = Some(*event);
        }
        Ok(Some(Event::PullNumber(number))) if args.pr.is_none() => pull.number = Some(number),
        Ok(Some(Event::Push { before, after })) if args.pr.is_none() => {
            pull.push = Some((before, after));
        }
        Ok(_) => {}
    }
    if pull.number.is_none() && !args.post {
        return Ok(pull);
    }
    let repository = repository(args, &env, repo)?;
    let mut session = Session::new(env, repository, from_event)?;
    if let (Some(number), None) = (pull.number, &session.pull) {
        if let Err(error) = session.fetch_pull(number) {
            pull.problem = Some(Error::from(error));
        }
    }
    pull.session = Some(session);
    Ok(pull)
}

/// `--repo`, else `GITHUB_REPOSITORY`, else the `origin` remote when it is on the server.
fn repository(args: &CheckArgs, env: &Env, repo: Option<&Repo>) -> Result<Repository> {
    if let Some(text) = &args.repo {
        return Repository::parse(text)
            .ok_or_else(|| Error::usage(format!("--repo `{text}` is not OWNER/NAME")));
    }
    env.repository
        .as_deref()
        .and_then(Repository::parse)
        .or_else(|| {
            let url = repo?.remote_url("origin")?;
            Repository::from_remote_url(&url, &env.server_url)
        })
        .ok_or_else(|| {
            Error::usage(
                "--pr and --post need the GitHub repository: pass --repo OWNER/NAME (or set GITHUB_REPOSITORY)",
            )
        })
}

/// Fails with the exact `git fetch` when a commit the pull request names is not local.
pub(super) fn ensure_commits(
    repo: &Repo,
    session: &Session,
    (base, head): (bool, bool),
) -> Result<()> {
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

/// Writes the verdict comment and the commit status. Every failure is printed with its fix
/// (and, in Actions, as an `::error`); the exit code stays the verdict's.
pub(super) fn post(pull: &Pull, report: &Report, markdown: &str, annotate: &dyn Fn(&str)) {
    let mut failures: Vec<String> = Vec::new();
    match &pull.session {
        None => failures
            .push("--post: nothing to post to: run on a pull request (or pass --pr N)".into()),
        Some(session) => {
            if let Some(number) = pull.number {
                match post::upsert_comment(session, number, markdown) {
                    Ok((outcome, duplicates)) => {
                        let what = match outcome {
                            post::CommentOutcome::Created(_) => "written",
                            post::CommentOutcome::Updated(_) => "updated",
                            post::CommentOutcome::Unchanged(_) => "unchanged",
                        };
                        eprintln!("promptgate: verdict comment {what} on #{number}");
                        failures.extend(duplicates.iter().map(ToString::to_string));
                    }
                    Err(error) => failures.push(error.to_string()),
                }
            }
            let head = report
                .head
                .clone()
                .or_else(|| pull.pull().map(|p| p.head_sha.clone()));
            match head {
                Some(sha) => match post::set_status(session, &sha, report) {
                    Ok(()) => eprintln!(
                        "promptgate: commit status `{}` is {} on {}",
                        post::STATUS_CONTEXT,
                        post::status_state(report.verdict),
                        &sha[..sha.len().min(12)]
                    ),
                    Err(error) => failures.push(error.to_string()),
                },
                None => failures.push(
                    "--post: the gate stopped before it knew the head commit, so no commit status was set".into(),
                ),
            }
        }
    }
    for failure in failures {
        eprintln!("promptgate: {failure}");
        if pull.env.actions {
            annotate(&actions::error(None, "promptgate could not post", &failure));
        }
    }
}

/// Said on an `error` verdict for a pull request from a fork.
pub(super) fn fork_note(number: u64) -> String {
    format!("this pull request comes from a fork: GitHub gives workflows on fork pull requests no secrets and a read-only token, so the gate cannot run or post here; a maintainer can run `promptgate check --pr {number} --post` with the API keys, or push the branch to this repository")
}
