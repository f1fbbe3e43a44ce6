//! `promptgate hook …`: installing the git hooks, and what they run. `pre-commit` checks the
//! staged change without calling a model (config, templates rendered for every case, change
//! records for tiers that need them); `pre-push` runs the gate on each pushed head against
//! the default branch (merge base), and stops council and exec changes pushed straight to
//! the default branch. Both read the repository and index git hands them (`GIT_DIR`,
//! `GIT_WORK_TREE`, `GIT_INDEX_FILE`).

use std::io::IsTerminal;

use super::{config_path, open_repo, print_warnings, Cli, HookArgs, HookCommand};
use crate::check;
use crate::error::Result;
use crate::exit;
use crate::hook;
use crate::hook::push::{self, PushGate, Pushed, Update};
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
    for problem in &problems {
        let label = if problem.is_error() { "" } else { "warning: " };
        eprintln!(
            "promptgate: {label}{}: {}",
            problem.location(),
            problem.message
        );
        if let Some(help) = &problem.help {
            eprintln!("  fix: {help}");
        }
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    if errors == 0 {
        return Ok(exit::PASS);
    }
    eprintln!(
        "promptgate: commit blocked ({errors} problem{}); fix them, or skip the check once with `git commit --no-verify`",
        if errors == 1 { "" } else { "s" }
    );
    Ok(exit::BLOCKED)
}

/// Gates each pushed head (the library's [`PushGate`]) and prints what it found; any
/// ref's non-zero code stops the push.
fn pre_push(cli: &Cli, remote: Option<&str>) -> Result<i32> {
    let updates = updates()?;
    let repo = open_repo()?;
    // The pre-commit framework passes the remote in the environment.
    let from_framework = std::env::var("PRE_COMMIT_REMOTE_NAME").ok();
    let remote = push::remote_name(&repo, remote.or(from_framework.as_deref()));
    let gate = PushGate::new(&repo, config_path(cli, &repo), remote);
    let mut code = exit::PASS;
    for update in &updates {
        let pushed = gate.gate(update)?;
        code = code.max(pushed.code());
        match pushed {
            Pushed::Deleted => {}
            Pushed::Ungated(message) => eprintln!("promptgate: {message}"),
            Pushed::Gated(gated) => {
                print_warnings(&gated.checked.warnings);
                eprintln!("promptgate: {}", gated.compared);
                let color = std::io::stderr().is_terminal();
                let style = terminal::Style { color };
                eprint!("{}", terminal::verdict(&gated.checked.report, style));
                if let Some(note) = &gated.note {
                    eprintln!("promptgate: {note}");
                }
            }
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
    push::parse_updates(stdin.lock())
}
