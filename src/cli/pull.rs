//! `check --post`: the verdict comment and commit status written back to the pull request,
//! every failure said loudly with its fix; and the note an `error` on a fork's pull request
//! gets.

use crate::check::{GithubPull, PullSource};
use crate::gate::Report;
use crate::github::{actions, post};

/// Writes the verdict comment and the commit status. Every failure is printed with its fix
/// (and, in Actions, as an `::error`); the exit code stays the verdict's.
pub(super) fn post(pull: &GithubPull, report: &Report, markdown: &str, annotate: &dyn Fn(&str)) {
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
