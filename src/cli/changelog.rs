//! `promptgate changelog`: the remote's ledger fetched in (unless `--no-fetch`), the
//! library's [`changelog`] over the window, printed as Markdown or JSON; with a GitHub token
//! and a known repository, GitHub is asked for the pull requests messages do not name.

use super::{config_path, open_repo, ChangelogArgs, Cli, Format};
use crate::error::Result;
use crate::exit;
use crate::github::{Env, Session};
use crate::ledger::changelog::{changelog, markdown, Bound, ChangelogRequest};
use crate::ledger::{push, record::RecordRequest};

pub(super) fn run(cli: &Cli, args: &ChangelogArgs) -> Result<i32> {
    let repo = open_repo()?;
    if !args.no_fetch {
        push::fetch_if_remote(&repo, &args.ledger.remote)?;
    }
    let env = Env::from_process();
    let origin = repo.remote_url("origin");
    let session = env
        .token
        .is_some()
        .then(|| Session::for_repository(env, args.repo.as_deref(), origin.as_deref(), "--repo"));
    let pulls = match session {
        Some(Err(error)) if args.repo.is_some() => return Err(error),
        Some(Ok(session)) => Some(std::rc::Rc::new(session) as _),
        _ => None,
    };
    let now = crate::util::time::now_seconds();
    let request = ChangelogRequest {
        rev: args.ledger.rev.clone(),
        since: Bound::parse(&args.since, now, false),
        until: Bound::parse(&args.until, now, true),
        record: RecordRequest {
            rev: args.ledger.rev.clone(),
            config_path: config_path(cli, &repo),
            cache_dir: args.cache.dir()?,
            read_cache: !args.cache.no_cache,
        },
        pulls,
    };
    let log = changelog(&repo, &request)?;
    for warning in &log.warnings {
        eprintln!("promptgate: warning: {warning}");
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&log).unwrap_or_default()),
        Format::Markdown | Format::Text => print!("{}", markdown(&log)),
    }
    Ok(exit::PASS)
}
