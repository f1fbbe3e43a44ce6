//! `promptgate eval`: loads and checks every selected suite at a revision (all problems
//! reported before any model call), connects the providers, runs the suites and prints or
//! writes the results.

use std::io::IsTerminal;
use std::sync::Arc;

use super::TextOrJson;
use super::{config_path, open_repo, print_warnings, use_color, Cli, EvalArgs};
use crate::error::{Error, Result};
use crate::eval::revision::{self, EvalRequest};
use crate::eval::run::{self, Options};
use crate::eval::side;
use crate::exit;
use crate::report;

pub(super) fn run(cli: &Cli, args: &EvalArgs) -> Result<i32> {
    let repo = open_repo()?;
    let request = EvalRequest {
        rev: args.rev.clone(),
        config_file: cli.config.clone(),
        config_path: config_path(cli, &repo),
        config_rev: args.config_rev.clone(),
        surfaces: args.surface.clone(),
        shard: args.shard.clone(),
        record: args.record,
        cache_dir: args.cache.dir()?,
        read_cache: !args.cache.no_cache,
    };
    let mut warnings = Vec::new();
    let ready = revision::prepare_revision(&repo, &request, &mut warnings);
    print_warnings(&warnings);
    let ready = ready?;
    let (rev, short, total_trials) = (ready.rev(), ready.short(), ready.trials());
    let mut stream =
        report::json::CaseStream::new(args.format == TextOrJson::Json, args.out.as_deref())?;
    stream.begin(&rev, args.shard.as_deref())?;
    let progress = progress_bar(args, total_trials);
    let options = Options {
        on_progress: progress
            .clone()
            .map(|bar| Box::new(move |n| bar.set_position(n)) as _),
        ..ready.options
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
    let result = side::run(ready.targets, options, sink)
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Ok(mut stream) = sink_stream.lock() {
        stream.finish(&result)?;
    }
    if args.format != TextOrJson::Json {
        print_summary(cli, &result, &short);
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
    if !interactive || args.format == TextOrJson::Json {
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
