//! The minijinja engine over one snapshot's prompts and the templates they include:
//! compiling (syntax errors at file:line), the variables each message uses (its includes
//! counted), and strict rendering, where an undefined variable is an error, never "".

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use super::includes::{scan, Closure};
use super::Prompt;
use crate::diagnostic::Diagnostic;

/// Compiled templates, and where each one's lines sit in its file.
pub struct Templates {
    env: Environment<'static>,
    /// Template name → (file, line of the file where the template starts).
    origins: BTreeMap<String, (String, usize)>,
    /// File path → its source, for following includes when collecting variables.
    files: BTreeMap<String, String>,
}

impl Templates {
    /// Compiles every prompt message and every included file; syntax errors come back as
    /// diagnostics, and the templates that compiled stay usable.
    pub fn compile(prompts: &[Prompt], closure: &Closure) -> (Templates, Vec<Diagnostic>) {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_path_join_callback(|name, parent| super::includes::resolve(parent, name).into());
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        let mut templates = Templates {
            env,
            origins: BTreeMap::new(),
            files: closure.files.clone(),
        };
        let mut problems = Vec::new();
        let messages = prompts.iter().flat_map(|p| p.messages.iter());
        let prompt_paths: BTreeSet<&str> = prompts.iter().map(|p| p.path.as_str()).collect();
        let included = closure
            .files
            .iter()
            .filter(|(path, _)| !prompt_paths.contains(path.as_str()))
            .map(|(path, source)| (path.clone(), path.clone(), source.clone(), 1));
        let all: Vec<(String, String, String, usize)> = messages
            .map(|m| {
                let file = m.template.split('#').next().unwrap_or_default().to_string();
                (m.template.clone(), file, m.source.clone(), m.first_line)
            })
            .chain(included)
            .collect();
        for (name, file, source, first_line) in all {
            templates.origins.insert(name.clone(), (file, first_line));
            if let Err(error) = templates.env.add_template_owned(name, source) {
                problems.push(templates.diagnostic(&error, None));
            }
        }
        (templates, problems)
    }

    /// The top-level variables a template uses, its includes counted, without the
    /// engine's globals (`range`, `dict`, …).
    pub fn variables(&self, name: &str) -> BTreeSet<String> {
        let globals: BTreeSet<&str> = self.env.globals().map(|(k, _)| k).collect();
        let mut seen = BTreeSet::new();
        let mut queue = vec![name.to_string()];
        let mut out = BTreeSet::new();
        while let Some(current) = queue.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            let Ok(template) = self.env.get_template(&current) else {
                continue;
            };
            out.extend(
                template
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !globals.contains(v.as_str())),
            );
            if let Some(source) = self.source_of(&current) {
                queue.extend(
                    scan(&current, &source)
                        .references
                        .into_iter()
                        .map(|r| r.path),
                );
            }
        }
        out
    }

    fn source_of(&self, name: &str) -> Option<String> {
        match self.files.get(name) {
            Some(source) => Some(source.clone()),
            None => self
                .env
                .get_template(name)
                .ok()
                .map(|t| t.source().to_string()),
        }
    }

    /// Renders a template with a case's variables.
    pub fn render(
        &self,
        name: &str,
        vars: &Map<String, Value>,
    ) -> Result<String, minijinja::Error> {
        self.env
            .get_template(name)?
            .render(minijinja::Value::from(minijinja::value::Serde(vars)))
    }

    /// Whether a template compiled.
    pub fn contains(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// A template error as a diagnostic at the file and line it comes from; `context`
    /// (e.g. "case `c1`") says what was being rendered.
    pub fn diagnostic(&self, error: &minijinja::Error, context: Option<&str>) -> Diagnostic {
        let name = error.name().unwrap_or_default();
        let (file, first_line) = self
            .origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| (name.to_string(), 1));
        let what = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        let message = match context {
            Some(context) => format!("{what} (rendering {context})"),
            None => what,
        };
        let diagnostic = Diagnostic::error(file, message);
        match error.line() {
            Some(line) => diagnostic.at_line(first_line + line - 1),
            None => diagnostic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::parse;

    fn compile(files: &[(&str, &str)]) -> (Templates, Vec<Diagnostic>) {
        let prompt = parse(files[0].0, files[0].1.as_bytes()).unwrap();
        let closure = Closure {
            files: files
                .iter()
                .map(|(p, s)| (p.to_string(), s.to_string()))
                .collect(),
            problems: vec![],
        };
        Templates::compile(&[prompt], &closure)
    }

    #[test]
    fn variables_follow_includes_and_skip_globals() {
        let (t, problems) = compile(&[
            (
                "p/a.md",
                "{% for i in range(n) %}{{ user.name }}{% endfor %}{% include './b.md' %}",
            ),
            ("p/b.md", "{{ tone }}"),
        ]);
        assert!(problems.is_empty());
        let vars: Vec<_> = t.variables("p/a.md").into_iter().collect();
        assert_eq!(vars, vec!["n", "tone", "user"]);
    }

    #[test]
    fn renders_strictly_and_reports_file_lines() {
        let (t, _) = compile(&[("p/a.md", "---\nmodel: x\n---\nHi {{ name }}\n")]);
        let vars = serde_json::json!({"name": "Ada"});
        assert_eq!(
            t.render("p/a.md", vars.as_object().unwrap()).unwrap(),
            "Hi Ada\n"
        );
        let err = t.render("p/a.md", &Map::new()).unwrap_err();
        assert_eq!(t.diagnostic(&err, None).line, Some(4));
    }

    #[test]
    fn syntax_error_points_at_file_line() {
        let (_, problems) = compile(&[("p/a.md", "---\nmodel: x\n---\nline\n{% if %}\n")]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location(), "p/a.md:5");
    }
}
