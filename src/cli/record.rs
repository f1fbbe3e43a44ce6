//! `promptgate record`: the library's [`record`] run at `--rev` (and, with `--backfill N`,
//! at the last first-parent commit of each of the last N weeks), what it wrote (a line per
//! `eval` entry and per `gate` entry), and with `--push` the ledger shared with the remote.

use super::{config_path, open_repo, print_warnings, Cli, RecordArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::ledger::push::push;
use crate::ledger::record::{record, revisions, RecordRequest};
use crate::ledger::NOTES_REF;

pub(super) fn run(cli: &Cli, args: &RecordArgs) -> Result<i32> {
    let repo = open_repo()?;
    let rev = repo.resolve(&args.ledger.rev)?;
    let revisions = revisions(&repo, rev, args.backfill)?;
    let cache_dir = args.cache.dir()?;
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
        print!("{}", recorded.describe());
        for problem in &recorded.incomplete {
            eprintln!("promptgate: {problem}");
        }
        incomplete |= !recorded.incomplete.is_empty();
    }
    if args.push {
        let attempts = push(&repo, &args.ledger.remote)?;
        let retried = if attempts > 1 {
            format!(" (after {attempts} attempts: another recorder pushed meanwhile)")
        } else {
            String::new()
        };
        println!("pushed {NOTES_REF} to {}{retried}", args.ledger.remote);
    }
    Ok(if incomplete { exit::ERROR } else { exit::PASS })
}
