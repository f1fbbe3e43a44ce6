//! `promptgate record`: the library's [`record`] run at `--rev` (and, with `--backfill N`,
//! at the last first-parent commit of each of the last N weeks), what it wrote (a line per
//! `eval` entry and per `gate` entry), and with `--push` the ledger shared with the remote.

use super::{config_path, open_repo, print_warnings, Cli, RecordArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::ledger::push::push;
use crate::ledger::record::{backfill_commits, record, RecordRequest, Recorded};
use crate::ledger::NOTES_REF;

pub(super) fn run(cli: &Cli, args: &RecordArgs) -> Result<i32> {
    let repo = open_repo()?;
    let rev = repo.resolve(&args.rev)?;
    let mut revisions = vec![rev];
    if let Some(weeks) = args.backfill {
        for commit in backfill_commits(&repo, rev, weeks)? {
            if !revisions.contains(&commit) {
                revisions.push(commit);
            }
        }
    }
    // Absolute, as the flag reads from where promptgate runs: the gate resolves a relative
    // one against the checkout, and both must use the same answers.
    let cache_dir = match &args.cache.cache_dir {
        Some(dir) if dir.is_relative() => Some(
            std::env::current_dir()
                .map_err(|e| Error::io("read", "the current directory", e))?
                .join(dir),
        ),
        dir => dir.clone(),
    };
    let mut incomplete = false;
    for commit in revisions {
        let request = RecordRequest {
            rev: commit.to_string(),
            config_path: config_path(cli, &repo),
            cache_dir: cache_dir.clone(),
            read_cache: !args.cache.no_cache,
        };
        let recorded = match record(&repo, &request) {
            Ok(recorded) => recorded,
            // An older commit without a (valid) config has nothing to record.
            Err(error @ Error::Invalid(_)) if commit != rev => {
                eprintln!(
                    "promptgate: {} not recorded:\n{error}",
                    crate::git::short(commit)
                );
                continue;
            }
            Err(error) => return Err(error),
        };
        print_warnings(&recorded.warnings);
        report(&recorded);
        incomplete |= !recorded.incomplete.is_empty();
    }
    if args.push {
        let dir = repo
            .workdir()
            .ok_or_else(|| Error::usage("--push needs a working tree to run git in"))?;
        let attempts = push(repo.raw(), dir, &args.remote)?;
        let retried = if attempts > 1 {
            format!(" (after {attempts} attempts: another recorder pushed meanwhile)")
        } else {
            String::new()
        };
        println!("pushed {NOTES_REF} to {}{retried}", args.remote);
    }
    Ok(if incomplete { exit::ERROR } else { exit::PASS })
}

/// What one commit's record wrote.
fn report(recorded: &Recorded) {
    let short = crate::git::short(recorded.commit);
    for entry in &recorded.entries {
        let surface = crate::report::escape_controls(&entry.surface);
        match &entry.gate {
            Some(gate) => println!(
                "{short} gate{} {surface}: {}, {}, {}",
                gate.pr.map(|n| format!(" (#{n})")).unwrap_or_default(),
                gate.verdict.as_str(),
                gate.tier.as_str(),
                match gate.regressions.len() {
                    1 => "1 regression".to_string(),
                    n => format!("{n} regressions"),
                }
            ),
            None => println!(
                "{short} {surface}: {}/{} cases pass ({:.1}%)",
                entry.passed,
                entry.cases,
                entry.pass_rate * 100.0
            ),
        }
    }
    println!(
        "recorded {} entr{} on {short} in {NOTES_REF}",
        recorded.entries.len(),
        if recorded.entries.len() == 1 {
            "y"
        } else {
            "ies"
        }
    );
    for problem in &recorded.incomplete {
        eprintln!("promptgate: {problem}");
    }
}
