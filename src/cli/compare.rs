//! `promptgate compare` and `promptgate experiments`: the library's comparison and
//! experiment log, printed.

use super::{
    config_path, open_repo, print_warnings, Cli, CompareArgs, ExperimentsArgs, Format, TextOrJson,
};
use crate::error::Result;
use crate::exit;
use crate::ledger::{compare::compare, compare::CompareRequest, experiments, push};

pub(super) fn run(cli: &Cli, args: &CompareArgs) -> Result<i32> {
    let repo = open_repo()?;
    let request = CompareRequest {
        surface: args.surface.clone(),
        candidate: args.provider.clone(),
        rev: args.rev.clone(),
        config_path: config_path(cli, &repo),
        cache_dir: args.cache.dir()?,
        read_cache: !args.cache.no_cache,
        log: args.log.clone(),
    };
    let compared = compare(&repo, &request)?;
    print_warnings(&compared.warnings);
    let comparison = &compared.comparison;
    match args.format {
        Format::Text => print!("{}", comparison.text()),
        Format::Markdown => print!("{}", comparison.markdown()),
        Format::Json => println!("{}", comparison.json()),
    }
    if let Some(note) = compared.note() {
        eprintln!("promptgate: {note}");
    }
    Ok(compared.incomplete.map_or(exit::PASS, |_| exit::ERROR))
}

pub(super) fn list(args: &ExperimentsArgs) -> Result<i32> {
    let repo = open_repo()?;
    if !args.no_fetch {
        push::fetch_if_remote(&repo, "origin")?;
    }
    let log = experiments::experiments(repo.raw())?;
    log.warnings
        .iter()
        .for_each(|w| eprintln!("promptgate: warning: {w}"));
    print!("{}", log.render(args.format == TextOrJson::Json));
    Ok(exit::PASS)
}
