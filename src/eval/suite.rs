//! A surface's eval suite at one snapshot, loaded and checked before any model call: its
//! prompt files and the templates they include, the entry prompt that cases render, its
//! cases and their assertions, every variable each case must define, and a strict render of
//! every case. `validate` reports what this finds; `eval` runs what it loads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::cases::{self, Case};
use super::providers::ChatMessage;
use crate::changeset::list_matching;
use crate::config::{PromptGlobs, Surface};
use crate::diagnostic::Diagnostic;
use crate::git::{EntryKind, FileEntry, GitError, Snapshot};
use crate::prompts::includes::Closure;
use crate::prompts::template::{is_out_of_fuel, Templates, VariableUse, SUITE_RENDER_FUEL};
use crate::prompts::{self, Prompt};

/// A loaded suite, ready to render. The compiled templates are shared, so one side's
/// prompts can render another revision's cases ([`Suite::with_cases`]).
#[derive(Clone)]
pub struct Suite {
    pub surface: String,
    /// The prompt every case renders.
    pub entry: Prompt,
    pub templates: Arc<Templates>,
    pub case_file: String,
    pub cases: Vec<Case>,
}

impl Suite {
    /// The messages of case `index`, rendered.
    pub fn render(&self, index: usize) -> Result<Vec<ChatMessage>, minijinja::Error> {
        let vars = &self.cases[index].vars;
        self.entry
            .messages
            .iter()
            .map(|m| {
                Ok(ChatMessage {
                    role: m.role.clone(),
                    content: self.templates.render(&m.template, vars)?,
                })
            })
            .collect()
    }

    /// This suite's prompts with other cases: each takes the vars of its namesake here for
    /// any variable it lacks (a renamed variable still reaches these prompts). Cases these
    /// prompts cannot render are left out and returned by id.
    pub fn with_cases(&self, cases: &[Case]) -> (Suite, Vec<String>) {
        let own: BTreeMap<&str, &Case> = self.cases.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut suite = Suite {
            cases: Vec::with_capacity(cases.len()),
            ..self.clone_without_cases()
        };
        let mut left_out = Vec::new();
        for case in cases {
            let mut case = case.clone();
            if let Some(namesake) = own.get(case.id.as_str()) {
                for (key, value) in &namesake.vars {
                    case.vars
                        .entry(key.clone())
                        .or_insert_with(|| value.clone());
                }
            }
            suite.cases.push(case);
            if suite.render(suite.cases.len() - 1).is_err() {
                left_out.extend(suite.cases.pop().map(|c| c.id));
            }
        }
        (suite, left_out)
    }

    fn clone_without_cases(&self) -> Suite {
        Suite {
            surface: self.surface.clone(),
            entry: self.entry.clone(),
            templates: self.templates.clone(),
            case_file: self.case_file.clone(),
            cases: Vec::new(),
        }
    }

    /// The entry prompt's model parameters (front matter or chat-file keys).
    pub fn params(&self) -> &Map<String, Value> {
        &self.entry.params
    }
}

/// What loading found: the suite (when nothing stops it), and every problem on the way.
#[derive(Default)]
pub struct Loaded {
    pub suite: Option<Suite>,
    pub prompt_files: usize,
    /// Cases read, even when the suite has problems.
    pub cases: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// The errors found, rendered (file, line, message, help).
    pub fn error_messages(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect()
    }
}

/// How many cases an error about one template variable lists by id.
const IDS_LISTED: usize = 5;
/// How many render errors are shown per template before the rest are counted.
const RENDER_ERRORS_SHOWN: usize = 3;

/// Loads and checks one surface's suite from `snapshot`; `config_file` names the config in
/// diagnostics.
pub fn load(
    snapshot: &dyn Snapshot,
    config_file: &str,
    surface: &Surface,
) -> Result<Loaded, GitError> {
    let mut out = Loaded::default();
    let name = surface.name.get_ref();
    let Some(prompts) = load_prompts(snapshot, config_file, surface, &mut out)? else {
        return Ok(out);
    };
    let roots: Vec<(&str, String)> = prompts
        .iter()
        .filter_map(|p| match snapshot.read_text(&p.path) {
            Ok(Some(text)) => Some((p.path.as_str(), text)),
            _ => None,
        })
        .collect();
    let closure = Closure::load(snapshot, roots.iter().map(|(p, t)| (*p, t.as_str())))?;
    let broken_includes = closure.problems.iter().any(Diagnostic::is_error);
    out.diagnostics.extend(closure.problems.iter().cloned());
    let (templates, syntax) = Templates::compile(&prompts, &closure);
    let broken_syntax = !syntax.is_empty();
    out.diagnostics.extend(syntax);
    let Some(case_file) = surface.cases.as_ref().map(|c| c.get_ref().clone()) else {
        return Ok(out);
    };
    let Some(entry) = choose_entry(config_file, surface, prompts, &mut out) else {
        return Ok(out);
    };
    let Some(cases) = load_cases(snapshot, config_file, name, &case_file, &mut out)? else {
        return Ok(out);
    };
    if broken_includes || broken_syntax {
        return Ok(out);
    }
    check_cases(&entry, &templates, &case_file, &cases, &mut out.diagnostics);
    if !out.diagnostics.iter().any(Diagnostic::is_error) {
        out.suite = Some(Suite {
            surface: name.clone(),
            entry,
            templates: Arc::new(templates),
            case_file,
            cases,
        });
    }
    Ok(out)
}

/// Lists and parses the surface's prompt files; warns about globs matching nothing,
/// symlinks and submodules.
fn load_prompts(
    snapshot: &dyn Snapshot,
    config_file: &str,
    surface: &Surface,
    out: &mut Loaded,
) -> Result<Option<Vec<Prompt>>, GitError> {
    let name = surface.name.get_ref();
    let patterns = surface.prompt_patterns();
    let Ok(globs) = PromptGlobs::new(patterns.iter().copied()) else {
        return Ok(None); // reported by the config check
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
    Ok(Some(prompts))
}

/// The prompt cases render: `entry` when set, else the one prompt file the globs match.
fn choose_entry(
    config_file: &str,
    surface: &Surface,
    prompts: Vec<Prompt>,
    out: &mut Loaded,
) -> Option<Prompt> {
    let name = surface.name.get_ref();
    if let Some(entry) = &surface.entry {
        let wanted = entry.get_ref();
        let found = prompts.into_iter().find(|p| &p.path == wanted);
        if found.is_none() {
            out.diagnostics.push(
                Diagnostic::error(
                    config_file,
                    format!("surface `{name}`: `entry` `{wanted}` is not one of its prompt files"),
                )
                .with_help("`entry` must be a path that the surface's `prompts` globs match"),
            );
        }
        return found;
    }
    match prompts.len() {
        1 => prompts.into_iter().next(),
        0 => None, // the glob warning says why
        n => {
            let paths: Vec<&str> = prompts.iter().take(4).map(|p| p.path.as_str()).collect();
            out.diagnostics.push(
                Diagnostic::error(config_file, format!("surface `{name}` matches {n} prompt files ({}{}), so it is not clear which one its cases render", paths.join(", "), if n > 4 { ", …" } else { "" }))
                    .with_help("set `entry = \"<path>\"` on the surface; the other files stay part of it (a change to them is a change to the surface)"),
            );
            None
        }
    }
}

fn load_cases(
    snapshot: &dyn Snapshot,
    config_file: &str,
    surface: &str,
    case_file: &str,
    out: &mut Loaded,
) -> Result<Option<Vec<Case>>, GitError> {
    let bytes = match snapshot.read(case_file)? {
        Some(FileEntry::File(bytes)) => bytes,
        _ => {
            out.diagnostics.push(
                Diagnostic::error(
                    config_file,
                    format!(
                        "surface `{surface}`: case file `{case_file}` does not exist in {}",
                        snapshot.describe()
                    ),
                )
                .with_help("`cases` is a path from the repository root to a JSONL or YAML file"),
            );
            return Ok(None);
        }
    };
    match cases::parse(case_file, &bytes) {
        Ok(cases) if cases.is_empty() => {
            out.diagnostics.push(
                Diagnostic::error(case_file, format!("surface `{surface}` has no eval cases"))
                    .with_help("a gated surface needs cases to measure; add at least one"),
            );
            Ok(None)
        }
        Ok(cases) => {
            out.cases = cases.len();
            Ok(Some(cases))
        }
        Err(diagnostics) => {
            out.diagnostics.extend(diagnostics);
            Ok(None)
        }
    }
}

/// Every variable the entry's templates use must be defined by every case; then every
/// case must render, within the engine's fuel per render and [`SUITE_RENDER_FUEL`] for all
/// of them together.
fn check_cases(
    entry: &Prompt,
    templates: &Templates,
    case_file: &str,
    cases: &[Case],
    diagnostics: &mut Vec<Diagnostic>,
) {
    check_cases_within(
        SUITE_RENDER_FUEL,
        entry,
        templates,
        case_file,
        cases,
        diagnostics,
    );
}

/// [`check_cases`] with `budget` fuel for all renders together.
fn check_cases_within(
    budget: u64,
    entry: &Prompt,
    templates: &Templates,
    case_file: &str,
    cases: &[Case],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut burnt: u64 = 0;
    for message in &entry.messages {
        if !templates.contains(&message.template) {
            continue;
        }
        let variables = templates.variables(&message.template);
        let mut missing: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
        let mut incomplete: BTreeSet<&str> = BTreeSet::new();
        for case in cases {
            for variable in variables.keys() {
                if !case.vars.contains_key(variable) {
                    missing.entry(variable).or_default().push(case);
                    incomplete.insert(&case.id);
                }
            }
        }
        for (variable, lacking) in missing {
            // Where it is used, when that is a template the message includes.
            let partial = Some(&variables[variable]).filter(|u| u.template != message.template);
            diagnostics.push(missing_variable(
                &entry.path,
                partial,
                case_file,
                variable,
                &lacking,
            ));
        }
        let mut render_errors = 0;
        for case in cases.iter().filter(|c| !incomplete.contains(c.id.as_str())) {
            let context = format!("case `{}` of {case_file}:{}", case.id, case.line);
            match templates.render_metered(&message.template, &case.vars) {
                Ok((_, fuel)) => burnt = burnt.saturating_add(fuel),
                Err(error) if is_out_of_fuel(&error) => {
                    // Every other case would likely burn the whole budget too.
                    diagnostics.push(templates.out_of_fuel(&message.template, &error, &context));
                    return;
                }
                Err(error) => {
                    render_errors += 1;
                    if render_errors <= RENDER_ERRORS_SHOWN {
                        diagnostics.push(templates.diagnostic(&error, Some(&context)));
                    }
                }
            }
            if burnt > budget {
                diagnostics.push(
                    Diagnostic::error(
                        case_file,
                        format!(
                            "rendering the cases of template `{}` used up the fuel all of a surface's renders may burn together ({} million steps) at case `{}`; the cases after it were not rendered",
                            message.template, budget / 1_000_000, case.id
                        ),
                    )
                    .at_line(case.line)
                    .with_help("make the template do less work per case (loops over large ranges, big filters), or split the cases over several surfaces"),
                );
                return;
            }
        }
        if render_errors > RENDER_ERRORS_SHOWN {
            diagnostics.push(Diagnostic::error(
                &entry.path,
                format!(
                    "{} more case(s) fail to render",
                    render_errors - RENDER_ERRORS_SHOWN
                ),
            ));
        }
    }
}

/// A variable that cases lack, at the first lacking case, naming the file and line that
/// use it (an included partial, when that is where it is used).
fn missing_variable(
    template: &str,
    partial: Option<&VariableUse>,
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
        (1, _) => format!("case {} does", ids.join("")),
        (_, 0) => format!("cases {} do", ids.join(", ")),
        _ => format!("cases {} and {more} more do", ids.join(", ")),
    };
    let user = match partial {
        None => format!("template `{template}`"),
        Some(used) => {
            let place = match used.line {
                Some(line) => format!("{}:{line}", used.file),
                None => used.file.clone(),
            };
            format!("template `{place}`, included by `{template}`,")
        }
    };
    let line = lacking.first().map_or(1, |c| c.line);
    Diagnostic::error(case_file, format!("{user} uses variable `{variable}`, which {who} not define"))
        .at_line(line)
        .with_help(format!("add `{variable}` to the `vars` of every case of the surface, or stop using it in the template"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors of checking ten cases of a loop over 10,000 items with `budget` fuel for
    /// all renders, and the fuel one case burns.
    fn check(budget: impl Fn(u64) -> u64) -> Vec<String> {
        let prompt = "{% for i in range(n) %}.{% endfor %}\n";
        let entry = prompts::parse("p/a.md", prompt.as_bytes()).expect("prompt");
        let closure = Closure {
            files: [("p/a.md".to_string(), prompt.to_string())].into(),
            problems: vec![],
        };
        let (templates, problems) = Templates::compile(std::slice::from_ref(&entry), &closure);
        assert!(problems.is_empty(), "{problems:?}");
        let cases: String = (0..10)
            .map(|i| format!("{{\"id\": \"c{i}\", \"vars\": {{\"n\": 10000}}}}\n"))
            .collect();
        let cases = cases::parse("c.jsonl", cases.as_bytes()).expect("cases");
        let (_, one) = templates
            .render_metered("p/a.md", &cases[0].vars)
            .expect("renders");
        assert!(one > 10_000, "{one}");
        let mut diagnostics = Vec::new();
        check_cases_within(
            budget(one),
            &entry,
            &templates,
            "c.jsonl",
            &cases,
            &mut diagnostics,
        );
        diagnostics.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_cases_together_stop_at_the_suite_budget() {
        assert_eq!(check(|one| one * 10), Vec::<String>::new());
        let errors = check(|one| one * 7 / 2);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("error: c.jsonl:4: rendering the cases of template `p/a.md` used up the fuel all of a surface's renders may burn together")
                && errors[0].contains("at case `c3`; the cases after it were not rendered"),
            "{errors:?}"
        );
    }
}
