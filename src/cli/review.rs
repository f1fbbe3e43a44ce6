//! `promptgate review`: the remote's ledger fetched in (unless `--no-fetch`), the library's
//! [`review`] over `--weeks`, printed as text, Markdown or JSON, written to `--out`, and
//! with `--post` this week's review issue opened or updated on GitHub.

use std::path::Path;

use super::{config_path, open_repo, Cli, Format, ReviewArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::ledger::push;
use crate::ledger::review::{render, review, RepoLab, Review, ReviewRequest};

pub(super) fn run(cli: &Cli, args: &ReviewArgs) -> Result<i32> {
    let repo = open_repo()?;
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
        Format::Json => println!("{}", json(&review)?),
    }
    if let Some(dir) = &args.out {
        write_outputs(dir, &review)?;
    }
    Ok(exit::PASS)
}

fn json(review: &Review) -> Result<String> {
    serde_json::to_string_pretty(review)
        .map_err(|e| Error::io("serialize", "the review", std::io::Error::other(e)))
}

/// `review.json`, `review.md` and one SVG chart per surface.
fn write_outputs(dir: &Path, review: &Review) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io("write", path, e))
    };
    write("review.json", &json(review)?)?;
    write("review.md", &render::markdown(review))?;
    Ok(())
}
