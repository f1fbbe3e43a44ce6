//! `promptgate review`: the remote's ledger fetched in (unless `--no-fetch`), the library's
//! [`review`] over `--weeks`, printed as text, Markdown or JSON, written to `--out`, and
//! with `--post` this week's review issue opened or updated on GitHub.

use super::{config_path, open_repo, Cli, Format, ReviewArgs};
use crate::error::Result;
use crate::exit;
use crate::github::{Env, Session};
use crate::ledger::push;
use crate::ledger::review::{self, render, review, RepoLab, ReviewRequest};

pub(super) fn run(cli: &Cli, args: &ReviewArgs) -> Result<i32> {
    let repo = open_repo()?;
    // Where --post writes is settled before any work, so a missing repository is said first.
    let origin = repo.remote_url("origin");
    let session = args
        .post
        .then(|| {
            Session::for_repository(
                Env::from_process(),
                args.repo.as_deref(),
                origin.as_deref(),
                "--post",
            )
        })
        .transpose()?;
    if !args.no_fetch {
        push::fetch_if_remote(&repo, &args.ledger.remote)?;
    }
    let request = ReviewRequest {
        rev: args.ledger.rev.clone(),
        weeks: args.weeks,
        surfaces: args.surface.clone(),
        today: crate::util::time::today_number(),
    };
    let mut lab = RepoLab::new(
        &repo,
        config_path(cli, &repo),
        args.cache.dir()?,
        !args.cache.no_cache,
    );
    let review = review(&repo, &request, &mut lab)?;
    for warning in &review.warnings {
        eprintln!("promptgate: warning: {warning}");
    }
    for note in lab.evaluated_notes() {
        eprintln!("promptgate: {note}");
    }
    match args.format {
        Format::Text => print!("{}", render::text(&review)),
        Format::Markdown => print!("{}", render::markdown(&review)),
        Format::Json => println!("{}", render::json(&review)),
    }
    if let Some(dir) = &args.out {
        review::write_outputs(dir, &review)?;
    }
    if let Some(session) = session {
        let posted = review::post(&session, &review)?;
        eprintln!(
            "promptgate: {} {}",
            if posted.created { "opened" } else { "updated" },
            posted.url
        );
    }
    Ok(exit::PASS)
}
