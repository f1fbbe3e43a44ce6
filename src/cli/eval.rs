//! `promptgate eval`: loads and checks every selected suite at a revision (all problems
//! reported before any model call), connects the providers, runs the suites and prints or
//! writes the results.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::Format;
use super::{open_repo, print_warnings, read_config, use_color, Cli, EvalArgs};
use crate::config::{self, Config, Surface};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::{self, Cache};
use crate::eval::price::PriceTable;
use crate::eval::providers::{self, Endpoint};
use crate::eval::run::{self as runner, Options, Shard, Target};
use crate::eval::suite;
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
    let surfaces = select_surfaces(&config, &args.surface)?;
    if surfaces.is_empty() {
        return Err(Error::invalid(
            Diagnostic::error(&text.origin, "the config declares no gated surface, so there is nothing to evaluate")
                .with_help("add a `[[surface]]` with `cases`, `provider` and `min_pass_rate`, or name one with --surface"),
        ));
    }
    let source = (text.origin.as_str(), String::from_utf8_lossy(&text.bytes));
    let targets = prepare(&config, &surfaces, &snapshot, source, &root, args)?;
    let options = Options {
        cache: Cache::new(cache_dir(&root, args), !args.no_cache),
        shard,
        max_cost_usd: config.gate.max_cost_usd.as_ref().map(|b| *b.get_ref()),
        grader: grader(&config, &root, args)?,
        prices: PriceTable::new(config.price.clone()),
        on_progress: None,
        keep_outputs: false,
        share_answers: false,
        command_dir: None,
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    let sink_stream = Arc::new(std::sync::Mutex::new(stream));
    let sink = {
        let stream = sink_stream.clone();
        move |record: &runner::CaseRecord| {
            if let Ok(mut stream) = stream.lock() {
                stream.case(record);
            }
        }
    };
    let result = runtime.block_on(runner::run(targets, options, sink));
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

/// The named surfaces, or every gated one.
fn select_surfaces<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Surface>> {
    let all: Vec<&Surface> = config.surface.iter().map(|s| s.get_ref()).collect();
    if names.is_empty() {
        return Ok(all.into_iter().filter(|s| s.gate).collect());
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .copied()
                .find(|s| s.name.get_ref() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|s| s.name.get_ref().as_str()).collect();
                    Error::usage(format!(
                        "unknown surface `{name}`; the config declares: {}",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// Loads every suite and connects every provider; all problems at once, before any call.
fn prepare(
    config: &Config,
    surfaces: &[&Surface],
    snapshot: &dyn crate::git::Snapshot,
    (config_file, config_text): (&str, std::borrow::Cow<'_, str>),
    root: &Path,
    args: &super::EvalArgs,
) -> Result<Vec<Target>> {
    let mut problems = Vec::new();
    let mut endpoints: std::collections::BTreeMap<String, Arc<Endpoint>> =
        std::collections::BTreeMap::new();
    let mut targets = Vec::new();
    let prices = PriceTable::new(config.price.clone());
    for surface in surfaces {
        let name = surface.name.get_ref();
        let loaded = suite::load(snapshot, config_file, surface)?;
        let (errors, warnings): (Vec<_>, Vec<_>) = loaded
            .diagnostics
            .into_iter()
            .partition(Diagnostic::is_error);
        print_warnings(&warnings);
        if loaded.suite.is_none() && errors.is_empty() {
            problems.push(nothing_to_run(
                surface,
                loaded.prompt_files,
                snapshot,
                config_file,
                &config_text,
            ));
        }
        problems.extend(errors);
        let Some(provider) = surface.provider.as_ref().map(|p| p.get_ref().clone()) else {
            problems.push(Diagnostic::error(
                config_file,
                format!("surface `{name}` has no provider to evaluate with"),
            ));
            continue;
        };
        if !endpoints.contains_key(&provider) {
            match providers::connect(config, &provider, root, args.record) {
                Ok(endpoint) => {
                    endpoints.insert(provider.clone(), Arc::new(endpoint));
                }
                Err(message) => {
                    problems.push(Diagnostic::error(config_file, message));
                    continue;
                }
            }
        }
        let (Some(suite), Some(endpoint)) = (loaded.suite, endpoints.get(&provider)) else {
            continue;
        };
        // The model the calls name: the prompt's front matter may override the provider's.
        let model = runner::build_request(endpoint, suite.params(), Vec::new()).model;
        let price = endpoint.price_override.or_else(|| prices.lookup(&model));
        if config.gate.max_cost_usd.is_some() && endpoint.billed && price.is_none() {
            problems.push(
                Diagnostic::error(config_file, format!("`max_cost_usd` is set but the price of model `{model}` (provider `{provider}`) is unknown"))
                    .with_help(format!("add [price.\"{model}\"] with input_per_mtok and output_per_mtok")),
            );
        }
        let repeat = surface
            .repeat
            .as_ref()
            .map_or(*config.gate.repeat.get_ref(), |r| *r.get_ref());
        let quorum = config
            .gate
            .quorum
            .as_ref()
            .map_or(runner::default_quorum(repeat), |q| *q.get_ref());
        targets.push(Target {
            suite,
            endpoint: endpoint.clone(),
            judge: None,
            repeat,
            quorum: quorum.min(repeat),
            price,
        });
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Why a surface that loaded without errors has nothing to run: its globs match no prompt
/// file at the revision, or it has no case file. Never a silent success.
fn nothing_to_run(
    surface: &Surface,
    prompt_files: usize,
    snapshot: &dyn crate::git::Snapshot,
    config_file: &str,
    config_text: &str,
) -> Diagnostic {
    let name = surface.name.get_ref();
    if prompt_files == 0 {
        let globs: Vec<String> = surface
            .prompt_patterns()
            .iter()
            .map(|g| format!("`{g}`"))
            .collect();
        Diagnostic::error(
            config_file,
            format!(
                "surface `{name}`: its prompt glob(s) {} match no prompt file in {}, so it cannot be evaluated",
                globs.join(", "),
                snapshot.describe()
            ),
        )
        .at_span(config_text, surface.prompts.span())
        .with_help("fix `prompts` so it matches the surface's prompt files at this revision (`*` stays within a directory, `**` crosses directories), or pick the revision with --rev")
    } else {
        Diagnostic::error(
            config_file,
            format!("surface `{name}` has no `cases` file, so there is nothing to evaluate"),
        )
        .at_span(config_text, surface.name.span())
        .with_help("add `cases = \"evals/<surface>.jsonl\"` to the surface")
    }
}

fn grader(config: &Config, root: &Path, args: &EvalArgs) -> Result<Option<Arc<Endpoint>>> {
    let Some(name) = &config.gate.grader else {
        return Ok(None);
    };
    providers::connect(config, name.get_ref(), root, args.record)
        .map(|endpoint| Some(Arc::new(endpoint)))
        .map_err(|message| Error::invalid(Diagnostic::error(config::DEFAULT_PATH, message)))
}

fn cache_dir(root: &Path, args: &EvalArgs) -> std::path::PathBuf {
    match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => root.join(cache::DEFAULT_DIR),
    }
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
pub(super) fn print_summary(cli: &Cli, result: &runner::RunResult, label: &str) {
    let style = report::terminal::Style {
        color: use_color(cli.color),
    };
    print!("{}", report::terminal::eval_run(result, label, style));
}
