//! `promptgate validate`: checks the working tree (or a revision) and prints every problem.

use serde::Serialize;

use super::TextOrJson;
use super::{open_repo, print_warnings, read_config, Cli, ValidateArgs};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::exit;
use crate::git::{Snapshot, WorkTreeSnapshot};
use crate::validate::{validate, Validation};

pub(super) fn run(cli: &Cli, args: &ValidateArgs) -> Result<i32> {
    let repo = open_repo()?;
    let validation = match &args.rev {
        Some(rev) => {
            let snapshot = repo.tree_snapshot(repo.resolve(rev)?)?;
            check(cli, &repo, &snapshot, Some(rev))?
        }
        None => {
            let root = repo.workdir().ok_or_else(|| {
                Error::usage("the repository is bare: pass --rev REV to validate a revision")
            })?;
            check(cli, &repo, &WorkTreeSnapshot::new(root), None)?
        }
    };
    match args.format {
        TextOrJson::Json => print_json(&validation),
        TextOrJson::Text => print_text(&validation),
    }
    Ok(if validation.errors() > 0 {
        exit::INVALID
    } else {
        exit::PASS
    })
}

fn check(
    cli: &Cli,
    repo: &crate::git::Repo,
    snapshot: &dyn Snapshot,
    rev: Option<&String>,
) -> Result<Validation> {
    let config = read_config(cli, repo, rev.map(String::as_str), snapshot)?;
    Ok(validate(snapshot, &config.origin, &config.bytes)?)
}

fn print_text(validation: &Validation) {
    let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
        validation.diagnostics.iter().partition(|d| d.is_error());
    print_warnings(&warnings.into_iter().cloned().collect::<Vec<_>>());
    for error in &errors {
        eprintln!("{error}");
    }
    let verdict = match (validation.errors(), validation.warnings()) {
        (0, 0) => "ok".to_string(),
        (0, w) => format!("ok, {w} warning(s)"),
        (e, w) => format!("{e} error(s), {w} warning(s)"),
    };
    if validation.config_loaded {
        println!(
            "promptgate validate: {} surface(s), {} prompt file(s), {} case(s): {verdict}",
            validation.surfaces, validation.prompt_files, validation.cases
        );
    } else {
        println!("promptgate validate: the config is invalid, nothing else was checked: {verdict}");
    }
}

#[derive(Serialize)]
struct ValidationJson<'a> {
    schema_version: u32,
    ok: bool,
    #[serde(flatten)]
    validation: &'a Validation,
}

fn print_json(validation: &Validation) {
    let doc = ValidationJson {
        schema_version: crate::gate::SCHEMA_VERSION,
        ok: validation.errors() == 0,
        validation,
    };
    match serde_json::to_string_pretty(&doc) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}
