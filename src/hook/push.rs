//! The pre-push policy: the refs a push updates (git's stdin lines), the remote they go to,
//! and each pushed head gated against the default branch (merge base) as `check` gates it,
//! so every push of a pull request branch is judged on the whole change. A deleted ref is
//! skipped; a push to the default branch itself is measured from the remote's tip when
//! this clone knows it; `blocked` and `error` stop the push, and so does a council or exec
//! change pushed straight to the default branch (those go through a pull request, whatever
//! `[hooks]` says). The results are data: the command line prints them.

use std::io::BufRead;

use crate::check::{self, CheckRequest, Checked, Local};
use crate::config::Tier;
use crate::error::{Error, Result};
use crate::exit;
use crate::gate::Verdict;
use crate::git::{DefaultBranch, Repo, DEFAULT_REMOTE};

/// The object id git writes for "no commit": a deleted ref, or a ref new on the remote.
pub const ZERO: &str = "0000000000000000000000000000000000000000";

/// One ref being pushed, as git's pre-push stdin lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub local_sha: String,
    /// The ref it updates on the remote (`refs/heads/feature`); `None` from the pre-commit
    /// framework, which does not say.
    pub remote_ref: Option<String>,
    pub remote_sha: String,
}

/// The updates in git's pre-push stdin (`<local ref> <local sha> <remote ref> <remote sha>`
/// per line); lines of any other shape are skipped.
pub fn parse_updates(input: impl BufRead) -> Result<Vec<Update>> {
    let mut updates = Vec::new();
    for line in input.lines() {
        let line = line.map_err(|e| Error::io("read", "the pushed refs on stdin", e))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, local_sha, remote_ref, remote_sha] = fields.as_slice() {
            updates.push(Update {
                local_sha: local_sha.to_string(),
                remote_ref: Some(remote_ref.to_string()),
                remote_sha: remote_sha.to_string(),
            });
        }
    }
    Ok(updates)
}

/// The remote the push goes to: the one named (git passes the remote's name, or its URL
/// when pushed to one directly) when this clone has a remote by that name, else `origin`.
pub fn remote_name<'a>(repo: &Repo, named: Option<&'a str>) -> &'a str {
    named
        .filter(|r| repo.raw().find_remote(r).is_ok())
        .unwrap_or(DEFAULT_REMOTE)
}

/// What the pre-push gate found for one pushed ref.
pub enum Pushed {
    /// A deleted ref: nothing to gate.
    Deleted,
    /// No default branch to compare with, so the ref cannot be gated; says what to do.
    Ungated(String),
    /// The ref was gated.
    Gated(Box<Gated>),
}

impl Pushed {
    /// The hook's exit code for this ref: the push goes on only when every ref's is 0.
    pub fn code(&self) -> i32 {
        match self {
            Pushed::Deleted => exit::PASS,
            Pushed::Ungated(_) => exit::USAGE,
            Pushed::Gated(gated) => gated.code,
        }
    }
}

/// One pushed head, gated.
pub struct Gated {
    pub checked: Checked,
    /// What was compared with what: `abc1234 compared with origin/main, the default branch
    /// (merge base)`.
    pub compared: String,
    /// Said after the verdict: why the push stops, or that the pull request will need
    /// approvals.
    pub note: Option<String>,
    pub code: i32,
}

/// The pre-push gate of one repository and remote: the default branch is looked up once.
pub struct PushGate<'r> {
    repo: &'r Repo,
    config_path: String,
    remote: String,
    default: Option<DefaultBranch>,
}

impl<'r> PushGate<'r> {
    /// The gate for pushes to `remote`, with the config at `config_path` (repo-relative).
    pub fn new(repo: &'r Repo, config_path: String, remote: &str) -> PushGate<'r> {
        PushGate {
            repo,
            config_path,
            remote: remote.to_string(),
            default: repo.default_branch(remote),
        }
    }

    /// Gates one pushed ref.
    pub fn gate(&self, update: &Update) -> Result<Pushed> {
        let (repo, remote) = (self.repo, self.remote.as_str());
        if update.local_sha == ZERO {
            return Ok(Pushed::Deleted);
        }
        let short = &update.local_sha[..7.min(update.local_sha.len())];
        let Some(default) = &self.default else {
            return Ok(Pushed::Ungated(format!("no default branch to compare {short} with (none of {} exists), so the push cannot be gated\n  fix: record the remote's default branch with `git remote set-head {remote} --auto` (or fetch it), or push without the gate with `git push --no-verify`; `promptgate check --base REF` gates it by hand", check::range::DEFAULT_BRANCH_REFS.replace("origin", remote))));
        };
        let to_default =
            update.remote_ref.as_deref() == Some(format!("refs/heads/{}", default.name).as_str());
        // Pushing the default branch itself: the change is what the remote does not have
        // yet, measured from its tip when this clone knows it (fresher than the tracking ref).
        let (base, base_label) = if to_default
            && update.remote_sha != ZERO
            && repo.resolve(&update.remote_sha).is_ok()
        {
            let label = format!(
                "{}, the tip of {} on {remote}",
                &update.remote_sha[..7.min(update.remote_sha.len())],
                default.name
            );
            (update.remote_sha.clone(), label)
        } else {
            (
                default.rev.clone(),
                format!("{}, the default branch", default.rev),
            )
        };
        let request = CheckRequest {
            base: Some(base),
            head: Some(update.local_sha.clone()),
            config_path: self.config_path.clone(),
            read_cache: true,
            local_hook: true,
            ..CheckRequest::default()
        };
        let checked = check::check(repo, &request, &Local)?;
        let tier = checked.report.tier;
        let (note, code) = match checked.report.verdict {
            Verdict::Blocked | Verdict::Error => (
                Some("push stopped; fix the change, or push anyway with `git push --no-verify`".to_string()),
                exit::BLOCKED,
            ),
            _ if to_default && tier >= Tier::Council => (
                Some(format!(
                    "push stopped: changes of tier {} go through a pull request, and this push goes straight to {}, the default branch of {remote}\n  fix: push it to a branch (`git push {remote} HEAD:refs/heads/<topic>`) and open a pull request",
                    tier.as_str(),
                    default.name
                )),
                exit::BLOCKED,
            ),
            Verdict::NeedsSignoff => (
                Some("the gate holds; the pull request will need the approvals above".to_string()),
                exit::PASS,
            ),
            Verdict::Pass => (None, exit::PASS),
        };
        Ok(Pushed::Gated(Box::new(Gated {
            checked,
            compared: format!("{short} compared with {base_label} (merge base)"),
            note,
            code,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gits_lines_and_skips_others() {
        let input = "refs/heads/a 1111111 refs/heads/a 2222222\n\njunk\nrefs/heads/b 3333333 refs/heads/main 0000000\n";
        let updates = parse_updates(input.as_bytes()).unwrap();
        assert_eq!(
            updates,
            vec![
                Update {
                    local_sha: "1111111".into(),
                    remote_ref: Some("refs/heads/a".into()),
                    remote_sha: "2222222".into(),
                },
                Update {
                    local_sha: "3333333".into(),
                    remote_ref: Some("refs/heads/main".into()),
                    remote_sha: "0000000".into(),
                },
            ]
        );
    }
}
