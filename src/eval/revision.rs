//! The surfaces of one revision made ready to run, as `eval` (and the ledger's `record`)
//! evaluates them: the named surfaces (or every gated one), every suite loaded and every
//! provider connected, with all problems reported at once before any model call; and
//! [`prepare_revision`], the whole of that for `eval` (config, surfaces, shard, cache).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Config, Surface};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::{self, Cache};
use crate::eval::providers::{self, Endpoint};
use crate::eval::run::{Options, Shard, Target};
use crate::eval::{side, suite};
use crate::git::{Repo, Snapshot, WorkTreeSnapshot};

/// How an evaluation of the working tree names what it evaluated.
pub const WORKING_TREE: &str = "working tree";

/// The targets to run, and the warnings loading found.
pub struct Prepared {
    pub targets: Vec<Target>,
    pub warnings: Vec<Diagnostic>,
}

/// What `eval` runs at one revision.
#[derive(Debug, Clone, Default)]
pub struct EvalRequest {
    /// The revision whose prompts, cases and config are evaluated (`None`: the working
    /// tree, uncommitted edits included, also before the first commit).
    pub rev: Option<String>,
    /// A config file on disk (`--config`), read instead of the one at `rev` unless
    /// `config_rev` is given.
    pub config_file: Option<PathBuf>,
    /// The config's path in the repository.
    pub config_path: String,
    /// Read the config at this revision instead.
    pub config_rev: Option<String>,
    /// The surfaces to evaluate (empty: every gated one).
    pub surfaces: Vec<String>,
    /// `K/N`: run only shard K of N of the cases.
    pub shard: Option<String>,
    /// Fill replay cassettes from each replay provider's `record_from` provider.
    pub record: bool,
    /// Where responses are cached, absolute (`None`: `.promptgate/cache` in the checkout).
    pub cache_dir: Option<PathBuf>,
    pub read_cache: bool,
}

/// A revision's evaluation, ready to run with [`side::run`].
pub struct Ready {
    /// The commit evaluated (`None`: the working tree).
    pub commit: Option<git2::Oid>,
    pub targets: Vec<Target>,
    pub options: Options,
}

impl Ready {
    /// What was evaluated, for reports: the commit's full SHA, or `working tree`.
    pub fn rev(&self) -> String {
        self.commit
            .map_or_else(|| WORKING_TREE.to_string(), |c| c.to_string())
    }

    /// The same, short: the commit's abbreviated SHA.
    pub fn short(&self) -> String {
        self.commit
            .map_or_else(|| WORKING_TREE.to_string(), crate::git::short)
    }

    /// How many trials the run makes: every case of every target, times its repeats.
    pub fn trials(&self) -> u64 {
        self.targets
            .iter()
            .map(|t| t.suite.cases.len() as u64 * u64::from(t.repeat))
            .sum()
    }
}

/// Resolves `request.rev`, reads and checks its config (see [`config::source::read`]),
/// selects the surfaces, loads their suites and connects the providers and the grader:
/// every problem before any model call. Warnings are added to `warnings` as they are found,
/// also when a later step fails.
pub fn prepare_revision(
    repo: &Repo,
    request: &EvalRequest,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Ready> {
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.raw().path().to_path_buf());
    let (snapshot, commit): (Box<dyn Snapshot + '_>, Option<git2::Oid>) = match &request.rev {
        Some(rev) => {
            let commit = repo.resolve(rev)?;
            (Box::new(repo.tree_snapshot(commit)?), Some(commit))
        }
        None => {
            let dir = repo.workdir().ok_or_else(|| {
                Error::usage("the repository is bare: pass --rev REV to evaluate a revision")
            })?;
            (Box::new(WorkTreeSnapshot::new(dir)), None)
        }
    };
    let config_rev = request.config_rev.clone().or_else(|| {
        request
            .config_file
            .is_none()
            .then(|| request.rev.clone())
            .flatten()
    });
    let text = config::source::read(
        repo,
        request.config_file.as_deref(),
        request.config_path.clone(),
        config_rev.as_deref(),
        snapshot.as_ref(),
    )?;
    let loaded = config::load(&text.origin, &text.bytes).map_err(Error::Invalid)?;
    warnings.extend(loaded.warnings);
    let config = loaded.config;
    let shard = request
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(Error::usage)?;
    let surfaces = select_surfaces(&config, &request.surfaces)?;
    if surfaces.is_empty() {
        return Err(Error::invalid(
            Diagnostic::error(&text.origin, "the config declares no gated surface, so there is nothing to evaluate")
                .with_help("add a `[[surface]]` with `cases`, `provider` and `min_pass_rate`, or name one with --surface"),
        ));
    }
    let source = (text.origin.as_str(), String::from_utf8_lossy(&text.bytes));
    let prepared = prepare(
        &config,
        &surfaces,
        snapshot.as_ref(),
        source,
        &root,
        request.record,
    )?;
    warnings.extend(prepared.warnings);
    let cache_dir = request
        .cache_dir
        .clone()
        .unwrap_or_else(|| root.join(cache::DEFAULT_DIR));
    let options = Options {
        shard,
        grader: grader(&config, &root, request.record)?,
        ..side::options(&config, Cache::new(cache_dir, request.read_cache))
    };
    Ok(Ready {
        commit,
        targets: prepared.targets,
        options,
    })
}

/// The named surfaces, or every gated one.
pub fn select_surfaces<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Surface>> {
    if names.is_empty() {
        return Ok(config
            .surface
            .iter()
            .map(|s| s.get_ref())
            .filter(|s| s.gate)
            .collect());
    }
    names
        .iter()
        .map(|name| {
            config.surface_named(name).ok_or_else(|| {
                Error::usage(format!(
                    "unknown surface `{name}`; the config declares: {}",
                    config.surface_names().join(", ")
                ))
            })
        })
        .collect()
}

/// Loads every suite and connects every provider; all problems at once, before any call.
pub fn prepare(
    config: &Config,
    surfaces: &[&Surface],
    snapshot: &dyn crate::git::Snapshot,
    (config_file, config_text): (&str, std::borrow::Cow<'_, str>),
    root: &Path,
    record: bool,
) -> Result<Prepared> {
    let mut problems = Vec::new();
    let mut all_warnings = Vec::new();
    let mut endpoints: std::collections::BTreeMap<String, Arc<Endpoint>> =
        std::collections::BTreeMap::new();
    let mut targets = Vec::new();
    for surface in surfaces {
        let name = surface.name.get_ref();
        let loaded = suite::load(snapshot, config_file, surface)?;
        let (errors, warnings): (Vec<_>, Vec<_>) = loaded
            .diagnostics
            .into_iter()
            .partition(Diagnostic::is_error);
        all_warnings.extend(warnings);
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
            match providers::connect(config, &provider, root, record) {
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
        match side::target(config, surface, &provider, suite, endpoint.clone(), None) {
            Ok((target, _)) => targets.push(target),
            Err(unpriced) => problems.push(
                Diagnostic::error(config_file, format!("`max_cost_usd` is set but the price of model `{}` (provider `{provider}`) is unknown", unpriced.model))
                    .with_help(unpriced.help()),
            ),
        }
    }
    if problems.is_empty() {
        Ok(Prepared {
            targets,
            warnings: all_warnings,
        })
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

/// The endpoint `[gate] grader` names, when set.
pub fn grader(config: &Config, root: &Path, record: bool) -> Result<Option<Arc<Endpoint>>> {
    let Some(name) = &config.gate.grader else {
        return Ok(None);
    };
    providers::connect(config, name.get_ref(), root, record)
        .map(|endpoint| Some(Arc::new(endpoint)))
        .map_err(|message| Error::invalid(Diagnostic::error(config::DEFAULT_PATH, message)))
}
