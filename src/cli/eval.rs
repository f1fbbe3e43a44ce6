//! `promptgate eval`: loads and checks every selected suite at a revision (all problems
//! reported before any model call), connects the providers, runs the suites and prints or
//! writes the results.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::Format;
use super::{open_repo, print_warnings, read_config, use_color, Cli, EvalArgs};
use crate::config;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::{self, Cache};
use crate::eval::run::{self, Options, Shard};
use crate::eval::{revision, side};
use crate::exit;
use crate::report;

pub(super) fn run(cli: &Cli, args: &EvalArgs) -> Result<i32> {
    if args.format == Format::Markdown {
        return Err(Error::usage(
            "eval prints `text` or `json`; the Markdown report comes with `promptgate check`",
        ));
    }
    let repo = open_repo()?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.raw().path().to_path_buf());
    let oid = repo.resolve(&args.rev)?;
    let snapshot = repo.tree_snapshot(oid)?;
    let config_rev = args
        .config_rev
        .clone()
        .or_else(|| cli.config.is_none().then(|| args.rev.clone()));
    let text = read_config(cli, &repo, config_rev.as_deref(), &snapshot)?;
    let loaded = config::load(&text.origin, &text.bytes).map_err(Error::Invalid)?;
    print_warnings(&loaded.warnings);
    let config = loaded.config;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(Error::usage)?;
    let surfaces = revision::select_surfaces(&config, &args.surface)?;
    if surfaces.is_empty() {
        return Err(Error::invalid(
            Diagnostic::error(&text.origin, "the config declares no gated surface, so there is nothing to evaluate")
                .with_help("add a `[[surface]]` with `cases`, `provider` and `min_pass_rate`, or name one with --surface"),
        ));
    }
    let source = (text.origin.as_str(), String::from_utf8_lossy(&text.bytes));
    let prepared = revision::prepare(&config, &surfaces, &snapshot, source, &root, args.record)?;
    print_warnings(&prepared.warnings);
    let targets = prepared.targets;
    let options = Options {
        shard,
        grader: revision::grader(&config, &root, args.record)?,
        ..side::options(
            &config,
            Cache::new(
                args.cache
                    .dir()?
                    .unwrap_or_else(|| root.join(cache::DEFAULT_DIR)),
                !args.cache.no_cache,
            ),
        )
    };
    let total_trials: u64 = targets
        .iter()
        .map(|t| t.suite.cases.len() as u64 * u64::from(t.repeat))
        .sum();
    let mut stream =
        report::json::CaseStream::new(args.format == Format::Json, args.out.as_deref())?;
    stream.begin(&oid.to_string(), args.shard.as_deref())?;
    let progress = progress_bar(args, total_trials);
    let options = Options {
        on_progress: progress
            .clone()
            .map(|bar| Box::new(move |n| bar.set_position(n)) as _),
        ..options
    };
    let sink_stream = Arc::new(std::sync::Mutex::new(stream));
    let sink = {
        let stream = sink_stream.clone();
        move |record: &run::CaseRecord| {
            if let Ok(mut stream) = stream.lock() {
                stream.case(record);
            }
        }
    };
    let result = side::run(targets, options, sink)
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Ok(mut stream) = sink_stream.lock() {
        stream.finish(&result)?;
    }
    if args.format != Format::Json {
        print_summary(cli, &result, &crate::git::short(oid));
    }
    Ok(if result.complete() {
        exit::PASS
    } else {
        exit::ERROR
    })
}

/// A progress bar on an interactive terminal; none in CI, in logs or for JSON output.
fn progress_bar(args: &EvalArgs, total: u64) -> Option<indicatif::ProgressBar> {
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive || args.format == Format::Json {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} trials  {elapsed_precise} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// The terminal summary of an eval run; `label` names the revision.
pub(super) fn print_summary(cli: &Cli, result: &run::RunResult, label: &str) {
    let style = report::terminal::Style {
        color: use_color(cli.color),
    };
    print!("{}", report::terminal::eval_run(result, label, style));
}
