//! `promptgate review`: the remote's ledger fetched in (unless `--no-fetch`), the library's
//! [`review`] over `--weeks`, printed as text, Markdown or JSON, written to `--out`, and
//! with `--post` this week's review issue opened or updated on GitHub.

use super::{config_path, open_repo, Cli, Format, ReviewArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::github::{Env, Repository, Session};
use crate::ledger::push;
use crate::ledger::review::{self, render, review, RepoLab, ReviewRequest};

pub(super) fn run(cli: &Cli, args: &ReviewArgs) -> Result<i32> {
    let repo = open_repo()?;
    // Where --post writes is settled before any work, so a missing repository is said first.
    let session = if args.post {
        let env = Env::from_process();
        let origin = repo.remote_url("origin");
        let repository = Repository::locate(args.repo.as_deref(), &env, origin.as_deref())
            .map_err(Error::usage)?
            .ok_or_else(|| {
                Error::usage("--post needs the GitHub repository: pass --repo OWNER/NAME (or set GITHUB_REPOSITORY)")
            })?;
        Some(Session::new(env, repository, None)?)
    } else {
        None
    };
    if !args.no_fetch && repo.remote_url(&args.remote).is_some() {
        let dir = repo.workdir().ok_or_else(|| {
            Error::usage("fetching the ledger needs a working tree to run git in; pass --no-fetch")
        })?;
        push::fetch(repo.raw(), dir, &args.remote)?;
    }
    let request = ReviewRequest {
        rev: args.rev.clone(),
        weeks: args.weeks,
        surfaces: args.surface.clone(),
        today: crate::util::time::today_number(),
    };
    let mut lab = RepoLab::new(
        &repo,
        config_path(cli, &repo),
        args.cache.cache_dir.clone(),
        !args.cache.no_cache,
    );
    let review = review(&repo, &request, &mut lab)?;
    for warning in &review.warnings {
        eprintln!("promptgate: warning: {warning}");
    }
    for (commit, surface) in &lab.evaluated {
        eprintln!(
            "promptgate: evaluated {} at {} to find where its regressions started (no record in the ledger)",
            crate::report::escape_controls(surface),
            crate::git::short(*commit)
        );
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
