//! `promptgate hook …`: installing the git hooks, and what they run. `pre-commit` checks the
//! staged change without calling a model (config, templates rendered for every case, change
//! records for tiers that need them); `pre-push` runs the gate on each pushed head against
//! the default branch (merge base), and stops council and exec changes pushed straight to
//! the default branch. Both read the repository and index git hands them (`GIT_DIR`,
//! `GIT_WORK_TREE`, `GIT_INDEX_FILE`).

use std::io::{BufRead, IsTerminal};

use super::{config_path, open_repo, print_warnings, Cli, HookArgs, HookCommand};
use crate::check::{self, CheckRequest, Local};
use crate::config::Tier;
use crate::error::Result;
use crate::exit;
use crate::gate::Verdict;
use crate::hook;
use crate::report::terminal;

pub(super) fn run(cli: &Cli, args: &HookArgs) -> Result<i32> {
    match &args.command {
        HookCommand::Install {
            pre_commit,
            pre_push,
            force,
        } => {
            let repo = open_repo()?;
            for action in hook::install(&repo, &selected(*pre_commit, *pre_push), *force)? {
                println!("{action}");
            }
            Ok(exit::PASS)
        }
        HookCommand::Uninstall {
            pre_commit,
            pre_push,
        } => {
            let repo = open_repo()?;
            for action in hook::uninstall(&repo, &selected(*pre_commit, *pre_push))? {
                println!("{action}");
            }
            Ok(exit::PASS)
        }
        HookCommand::PreCommit => pre_commit(cli),
        HookCommand::PrePush { remote, url: _ } => pre_push(cli, remote.as_deref()),
    }
}

/// Both hooks unless one is named.
fn selected(pre_commit: bool, pre_push: bool) -> Vec<&'static str> {
    match (pre_commit, pre_push) {
        (true, false) => vec!["pre-commit"],
        (false, true) => vec!["pre-push"],
        _ => vec!["pre-commit", "pre-push"],
    }
}

/// Checks the staged change; exit 1 blocks the commit.
fn pre_commit(cli: &Cli) -> Result<i32> {
    let repo = open_repo()?;
    let problems = check::staged::problems(&repo, &config_path(cli, &repo))?;
    if problems.is_empty() {
        return Ok(exit::PASS);
    }
    for problem in &problems {
        eprintln!("promptgate: {}: {}", problem.location(), problem.message);
        if let Some(help) = &problem.help {
            eprintln!("  fix: {help}");
        }
    }
    eprintln!(
        "promptgate: commit blocked ({} problem{}); fix them, or skip the check once with `git commit --no-verify`",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Ok(exit::BLOCKED)
}

/// One ref being pushed, as git's pre-push stdin lists it.
struct Update {
    local_sha: String,
    /// The ref it updates on the remote (`refs/heads/feature`); `None` from the pre-commit
    /// framework, which does not say.
    remote_ref: Option<String>,
    remote_sha: String,
}

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Gates each pushed head against the default branch (merge base), as `check` does, so
/// every push of a pull request branch is judged on the whole change. `blocked` and
/// `error` stop the push, and so does a council or exec change pushed straight to the
/// default branch: those go through a pull request, whatever `[hooks]` says.
fn pre_push(cli: &Cli, remote: Option<&str>) -> Result<i32> {
    let updates = updates()?;
    let repo = open_repo()?;
    // git passes the remote's name (or its URL, when pushed to one directly); the
    // pre-commit framework passes it in the environment.
    let from_framework = std::env::var("PRE_COMMIT_REMOTE_NAME").ok();
    let remote = remote
        .or(from_framework.as_deref())
        .filter(|r| repo.raw().find_remote(r).is_ok())
        .unwrap_or(crate::git::DEFAULT_REMOTE);
    let default = repo.default_branch(remote);
    let mut code = exit::PASS;
    for update in updates {
        if update.local_sha == ZERO {
            continue; // a deleted ref: nothing to gate
        }
        let short = &update.local_sha[..7.min(update.local_sha.len())];
        let Some(default) = &default else {
            eprintln!("promptgate: no default branch to compare {short} with (none of {} exists), so the push cannot be gated\n  fix: record the remote's default branch with `git remote set-head {remote} --auto` (or fetch it), or push without the gate with `git push --no-verify`; `promptgate check --base REF` gates it by hand", check::range::DEFAULT_BRANCH_REFS.replace("origin", remote));
            code = code.max(exit::USAGE);
            continue;
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
            config_path: config_path(cli, &repo),
            read_cache: true,
            ..CheckRequest::default()
        };
        let checked = check::check(&repo, &request, &Local)?;
        print_warnings(&checked.warnings);
        eprintln!("promptgate: {short} compared with {base_label} (merge base)");
        eprint!(
            "{}",
            terminal::verdict(
                &checked.report,
                terminal::Style {
                    color: std::io::stderr().is_terminal()
                }
            )
        );
        let tier = checked.report.tier;
        match checked.report.verdict {
            Verdict::Blocked | Verdict::Error => {
                eprintln!("promptgate: push stopped; fix the change, or push anyway with `git push --no-verify`");
                code = code.max(exit::BLOCKED);
            }
            _ if to_default && tier >= Tier::Council => {
                eprintln!(
                    "promptgate: push stopped: changes of tier {} go through a pull request, and this push goes straight to {}, the default branch of {remote}\n  fix: push it to a branch (`git push {remote} HEAD:refs/heads/<topic>`) and open a pull request",
                    tier.as_str(),
                    default.name
                );
                code = code.max(exit::BLOCKED);
            }
            Verdict::NeedsSignoff => eprintln!(
                "promptgate: the gate holds; the pull request will need the approvals above"
            ),
            Verdict::Pass => {}
        }
    }
    Ok(code)
}

/// The pushed refs: git's stdin lines, or the pre-commit framework's environment.
fn updates() -> Result<Vec<Update>> {
    if let (Ok(from), Ok(to)) = (
        std::env::var("PRE_COMMIT_FROM_REF"),
        std::env::var("PRE_COMMIT_TO_REF"),
    ) {
        return Ok(vec![Update {
            local_sha: to,
            remote_ref: std::env::var("PRE_COMMIT_REMOTE_BRANCH").ok(),
            remote_sha: from,
        }]);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(Vec::new());
    }
    let mut updates = Vec::new();
    for line in stdin.lock().lines() {
        let line =
            line.map_err(|e| crate::error::Error::io("read", "the pushed refs on stdin", e))?;
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
