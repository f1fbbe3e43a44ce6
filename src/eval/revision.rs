//! The surfaces of one revision made ready to run, as `eval` (and the ledger's `record`)
//! evaluates them: the named surfaces (or every gated one), every suite loaded and every
//! provider connected, with all problems reported at once before any model call.

use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Config, Surface};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::providers::{self, Endpoint};
use crate::eval::run::Target;
use crate::eval::{side, suite};

/// The targets to run, and the warnings loading found.
pub struct Prepared {
    pub targets: Vec<Target>,
    pub warnings: Vec<Diagnostic>,
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
