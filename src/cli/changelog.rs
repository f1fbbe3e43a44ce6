//! `promptgate changelog`: the remote's ledger fetched in (unless `--no-fetch`), the
//! library's [`changelog`] over the window, printed as Markdown or JSON.

use super::{config_path, open_repo, ChangelogArgs, Cli, Format};
use crate::error::Result;
use crate::exit;
use crate::ledger::changelog::{changelog, markdown, Bound, ChangelogRequest};
use crate::ledger::{push, record::RecordRequest};

pub(super) fn run(cli: &Cli, args: &ChangelogArgs) -> Result<i32> {
    let repo = open_repo()?;
    if !args.no_fetch {
        push::fetch_if_remote(&repo, &args.ledger.remote)?;
    }
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
