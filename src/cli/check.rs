//! `promptgate check`: flags and environment turned into one [`CheckRequest`], the gate run
//! by the library ([`check::check`]), and its outputs: the chosen format on stdout, the
//! report files, the Actions step outputs and annotations, and with `--post` the verdict
//! comment and commit status.

use std::path::Path;

use super::pull;
use super::Format;
use super::{config_path, open_repo, print_warnings, use_color, CheckArgs, Cli};
use crate::check::{self, CheckRequest, Checked, PullSource};
use crate::error::{Error, Result};
use crate::gate::{self, trust::HeadTrust};
use crate::git::Repo;
use crate::github::{self, Env};
use crate::report;

pub(super) fn run(cli: &Cli, args: &CheckArgs) -> Result<i32> {
    let repo = open_repo();
    let wanted = check::pull::Wanted {
        pr: args.pr,
        repo: args.repo.clone(),
        post: args.post,
    };
    let mut pull = check::pull::locate(Env::from_process(), &wanted, repo.as_ref().ok())?;
    let mut checked = match (pull.problem.take(), repo) {
        (Some(error @ Error::Usage { .. }), _) | (None, Err(error @ Error::Usage { .. })) => {
            return Err(error)
        }
        (Some(error), _) | (None, Err(error)) => Checked::failed(&error),
        (None, Ok(repo)) => {
            let request = request(cli, args, &repo)?;
            check::check(&repo, &request, &pull)?
        }
    };
    checked.report.pull_request = pull.number;
    print_warnings(&checked.warnings);
    if let Some(note) = &checked.base_note {
        eprintln!("promptgate: {note}");
    }
    if let (Some(shard), Some(dir)) = (&checked.shard, &args.out) {
        shard.write(dir)?;
    }
    checked.redact();
    if checked.report.verdict == gate::Verdict::Error {
        if let Some(fork) = PullSource::pull(&pull).filter(|p| p.is_fork()) {
            checked
                .report
                .reasons
                .push(check::pull::fork_note(fork.number));
        }
    }
    let markdown = emit(cli, args.out.as_deref(), args.format, &checked)?;
    // A shard's verdict is partial: the matrix's verdict comes from `promptgate merge`, so
    // a shard only fails the job when it could not run.
    let code = if args.shard.is_some() && checked.report.verdict != gate::Verdict::Error {
        eprintln!("promptgate: shard {} done; run `promptgate merge` over every shard's --out directory for the verdict", args.shard.as_deref().unwrap_or_default());
        crate::exit::PASS
    } else {
        checked.report.exit_code
    };
    // Workflow commands go to stdout, unless stdout holds a JSON report.
    let annotate = |line: &str| match args.format {
        Format::Json => eprintln!("{line}"),
        _ => println!("{line}"),
    };
    if pull.env.actions {
        // Not being able to write a step output must not keep the verdict off the PR.
        match checked.actions_outputs(&pull.env, args.out.as_deref(), &markdown, code) {
            Ok(annotations) => annotations.iter().for_each(|line| annotate(line)),
            Err(error) => {
                eprintln!("promptgate: {error}");
                annotate(&github::actions::error(
                    None,
                    "promptgate could not write the step outputs",
                    &error.to_string(),
                ));
            }
        }
    }
    if args.post {
        pull::post(&pull, &checked.report, &markdown, &annotate);
    }
    Ok(code)
}

/// The request the flags make: the cache directory made absolute against where
/// promptgate runs, as the flag reads.
fn request(cli: &Cli, args: &CheckArgs, repo: &Repo) -> Result<CheckRequest> {
    let cache_dir = args.cache.dir()?;
    Ok(CheckRequest {
        base: args.range.base.clone(),
        head: args.range.head.clone(),
        config_path: config_path(cli, repo),
        pr_body: args.pr_body.clone(),
        cache_dir,
        read_cache: !args.cache.no_cache,
        shard: args.shard.clone(),
        head_trust: if args.trust_head {
            HeadTrust::Trusted
        } else {
            HeadTrust::Untrusted
        },
        local_hook: false,
    })
}

/// Writes the reports into `out` (when given) and prints the chosen format; returns the
/// verdict comment's Markdown.
pub(super) fn emit(
    cli: &Cli,
    out: Option<&Path>,
    format: Format,
    checked: &Checked,
) -> Result<String> {
    let markdown = report::markdown::verdict(&checked.report, checked.changes.as_ref());
    if let Some(dir) = out {
        checked.write_files(dir, &markdown)?;
    }
    let text = match format {
        Format::Json => report::json::report(&checked.report),
        Format::Markdown => markdown.clone(),
        Format::Text => report::terminal::verdict(
            &checked.report,
            report::terminal::Style {
                color: use_color(cli.color),
            },
        ),
    };
    print!("{text}");
    Ok(markdown)
}
