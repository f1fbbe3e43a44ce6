//! Checks everything a gate run would read, without calling a model: the config, every
//! surface's prompt files and the templates they include, its case files, the variables
//! each template uses against every case, and a strict render of every case.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::changeset::list_matching;
use crate::config::{self, Surface};
use crate::diagnostic::Diagnostic;
use crate::eval::cases::{self, Case};
use crate::git::{EntryKind, FileEntry, GitError, Snapshot};
use crate::prompts::includes::Closure;
use crate::prompts::template::Templates;
use crate::prompts::{self, Prompt};

/// What validation found.
#[derive(Debug, Default, Serialize)]
pub struct Validation {
    /// Whether the config itself loaded; when not, nothing else was checked.
    pub config_loaded: bool,
    pub surfaces: usize,
    pub prompt_files: usize,
    pub cases: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl Validation {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// How many cases an error about one template variable lists by id.
const IDS_LISTED: usize = 5;
/// How many render errors are shown per template before the rest are counted.
const RENDER_ERRORS_SHOWN: usize = 3;

/// Validates the config `config_file` (its bytes given) and what it points to in `snapshot`.
pub fn validate(
    snapshot: &dyn Snapshot,
    config_file: &str,
    config_bytes: &[u8],
) -> Result<Validation, GitError> {
    let mut out = Validation::default();
    let loaded = match config::load(config_file, config_bytes) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            out.diagnostics = diagnostics;
            return Ok(out);
        }
    };
    out.config_loaded = true;
    out.diagnostics.extend(loaded.warnings);
    for surface in &loaded.config.surface {
        out.surfaces += 1;
        validate_surface(snapshot, config_file, surface.get_ref(), &mut out)?;
    }
    Ok(out)
}

fn validate_surface(
    snapshot: &dyn Snapshot,
    config_file: &str,
    surface: &Surface,
    out: &mut Validation,
) -> Result<(), GitError> {
    let name = surface.name.get_ref();
    let patterns: Vec<&str> = surface
        .prompts
        .get_ref()
        .iter()
        .map(|p| p.get_ref().as_str())
        .collect();
    let Ok(globs) = config::PromptGlobs::new(patterns.iter().copied()) else {
        return Ok(()); // already reported by the config check
    };
    let files = list_matching(snapshot, &globs)?;
    for (i, pattern) in patterns.iter().enumerate() {
        if !files
            .iter()
            .any(|(path, _)| globs.matching_patterns(path).contains(&i))
        {
            out.diagnostics.push(
                Diagnostic::warning(
                    config_file,
                    format!(
                        "prompt glob `{pattern}` of surface `{name}` matches no file in {}",
                        snapshot.describe()
                    ),
                )
                .with_help(
                    "check the pattern: `*` stays within a directory, `**` crosses directories",
                ),
            );
        }
    }
    let mut prompts = Vec::new();
    for (path, kind) in files {
        match kind {
            EntryKind::Symlink => out.diagnostics.push(
                Diagnostic::warning(&path, format!("symlink under the prompt globs of surface `{name}` is not followed"))
                    .with_help("point the glob at the link's target instead"),
            ),
            EntryKind::Submodule => out.diagnostics.push(
                Diagnostic::warning(&path, format!("submodule under the prompt globs of surface `{name}` is not entered"))
                    .with_help("narrow the glob, or list the submodule's prompts in a surface of their own repository"),
            ),
            EntryKind::File => {
                out.prompt_files += 1;
                if let Some(FileEntry::File(bytes)) = snapshot.read(&path)? {
                    match prompts::parse(&path, &bytes) {
                        Ok(prompt) => prompts.push(prompt),
                        Err(d) => out.diagnostics.push(d),
                    }
                }
            }
        }
    }
    let roots: Vec<(&str, String)> = prompts
        .iter()
        .filter_map(|p| match snapshot.read_text(&p.path) {
            Ok(Some(text)) => Some((p.path.as_str(), text)),
            _ => None,
        })
        .collect();
    let closure = Closure::load(snapshot, roots.iter().map(|(p, t)| (*p, t.as_str())))?;
    let had_include_errors = closure.problems.iter().any(Diagnostic::is_error);
    out.diagnostics.extend(closure.problems.iter().cloned());
    let (templates, syntax) = Templates::compile(&prompts, &closure);
    let had_syntax_errors = !syntax.is_empty();
    out.diagnostics.extend(syntax);
    let Some(case_file) = surface.cases.as_ref().map(|c| c.get_ref().as_str()) else {
        return Ok(());
    };
    let cases = match snapshot.read(case_file)? {
        Some(FileEntry::File(bytes)) => match cases::parse(case_file, &bytes) {
            Ok(cases) => cases,
            Err(diagnostics) => {
                out.diagnostics.extend(diagnostics);
                return Ok(());
            }
        },
        _ => {
            out.diagnostics.push(
                Diagnostic::error(
                    config_file,
                    format!(
                        "surface `{name}`: case file `{case_file}` does not exist in {}",
                        snapshot.describe()
                    ),
                )
                .with_help("`cases` is a path from the repository root to a JSONL or YAML file"),
            );
            return Ok(());
        }
    };
    out.cases += cases.len();
    if cases.is_empty() {
        out.diagnostics.push(
            Diagnostic::error(case_file, format!("surface `{name}` has no eval cases"))
                .with_help("a gated surface needs cases to measure; add at least one"),
        );
    }
    if !(had_include_errors || had_syntax_errors) {
        check_cases(&prompts, &templates, case_file, &cases, out);
    }
    Ok(())
}

/// Every variable each template uses must be defined by every case; then every case must
/// render.
fn check_cases(
    prompts: &[Prompt],
    templates: &Templates,
    case_file: &str,
    cases: &[Case],
    out: &mut Validation,
) {
    for message in prompts.iter().flat_map(|p| p.messages.iter()) {
        if !templates.contains(&message.template) {
            continue;
        }
        let variables = templates.variables(&message.template);
        let mut missing: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
        let mut incomplete: BTreeSet<&str> = BTreeSet::new();
        for case in cases {
            for variable in &variables {
                if !case.vars.contains_key(variable) {
                    missing.entry(variable).or_default().push(case);
                    incomplete.insert(&case.id);
                }
            }
        }
        let file = message.template.split('#').next().unwrap_or_default();
        for (variable, lacking) in missing {
            out.diagnostics
                .push(missing_variable(file, case_file, variable, &lacking));
        }
        let mut render_errors = 0;
        for case in cases.iter().filter(|c| !incomplete.contains(c.id.as_str())) {
            if let Err(error) = templates.render(&message.template, &case.vars) {
                render_errors += 1;
                if render_errors <= RENDER_ERRORS_SHOWN {
                    let context = format!("case `{}` of {case_file}:{}", case.id, case.line);
                    out.diagnostics
                        .push(templates.diagnostic(&error, Some(&context)));
                }
            }
        }
        if render_errors > RENDER_ERRORS_SHOWN {
            out.diagnostics.push(Diagnostic::error(
                file,
                format!(
                    "{} more case(s) fail to render",
                    render_errors - RENDER_ERRORS_SHOWN
                ),
            ));
        }
    }
}

fn missing_variable(
    template: &str,
    case_file: &str,
    variable: &str,
    lacking: &[&Case],
) -> Diagnostic {
    let ids: Vec<String> = lacking
        .iter()
        .take(IDS_LISTED)
        .map(|c| format!("`{}`", c.id))
        .collect();
    let more = lacking.len().saturating_sub(IDS_LISTED);
    let who = match (lacking.len(), more) {
        (1, _) => format!("case {} does", ids[0]),
        (_, 0) => format!("cases {} do", ids.join(", ")),
        _ => format!("cases {} and {more} more do", ids.join(", ")),
    };
    Diagnostic::error(case_file, format!("template `{template}` uses variable `{variable}`, which {who} not define"))
        .at_line(lacking[0].line)
        .with_help(format!("add `{variable}` to the `vars` of every case of the surface, or stop using it in the template"))
}
