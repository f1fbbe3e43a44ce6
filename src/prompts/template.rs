//! The minijinja engine over one snapshot's prompts and the templates they include:
//! compiling (syntax errors at file:line), the variables each message uses (its includes
//! counted, each with the file and line that uses it), and strict rendering, where an
//! undefined variable is an error, never "", and every render runs on a bounded budget of
//! fuel.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

use super::depth::{too_deep, Nesting, TooDeep, MAX_IF_DEPTH, MAX_TAG_DEPTH};
use super::includes::{first_uses, scan, Closure};
use super::Prompt;
use crate::diagnostic::Diagnostic;

/// The fuel one render of one message for one case may burn: every instruction of the
/// template engine costs about one, and every 64 bytes of text it creates or outputs
/// another. Real prompts use a few thousand (a loop over a thousand examples writing 30 KB
/// burns under 100,000); the bound stops runaway loops such as nested `range(100000)`s
/// within a fraction of a second and caps what a render can allocate at about 320 MB.
pub const RENDER_FUEL: u64 = 5_000_000;

/// The fuel all renders of one surface's cases may burn together while they are checked:
/// 400 renders at the full [`RENDER_FUEL`], or a million cases at 2,000 each (a minute or
/// two of rendering). Bounds the time a suite of many expensive cases can take without a
/// wall clock, so the same revision always gets the same answer.
pub const SUITE_RENDER_FUEL: u64 = 2_000_000_000;

/// Where a template variable is first used, following includes from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableUse {
    /// The template that uses it: the message's own, or a file it includes.
    pub template: String,
    /// The file that template lives in.
    pub file: String,
    /// The file's 1-based line of the first use, when it can be found in the source.
    pub line: Option<usize>,
}

/// Compiled templates, and where each one's lines sit in its file.
pub struct Templates {
    env: Environment<'static>,
    /// Template name → (file, line of the file where the template starts).
    origins: BTreeMap<String, (String, usize)>,
}

impl Templates {
    /// Compiles every prompt message and every included file; syntax errors come back as
    /// diagnostics, and the templates that compiled stay usable.
    pub fn compile(prompts: &[Prompt], closure: &Closure) -> (Templates, Vec<Diagnostic>) {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(RENDER_FUEL));
        env.set_path_join_callback(|name, parent| super::includes::resolve(parent, name).into());
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(false)
            .build()
        {
            env.set_syntax(syntax);
        }
        let mut templates = Templates {
            env,
            origins: BTreeMap::new(),
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
            if let Some(deep) = too_deep(&source) {
                problems.push(too_deep_diagnostic(&file, first_line, deep));
                templates.origins.insert(name, (file, first_line));
                continue;
            }
            templates.origins.insert(name.clone(), (file, first_line));
            if let Err(error) = templates.env.add_template_owned(name, source) {
                problems.push(templates.diagnostic(&error, None));
            }
        }
        (templates, problems)
    }

    /// The top-level variables a template uses, its includes counted, without the
    /// engine's globals (`range`, `dict`, …), each with where it is first used: the
    /// template's own uses first, then its includes breadth-first in source order.
    pub fn variables(&self, name: &str) -> BTreeMap<String, VariableUse> {
        let globals: BTreeSet<&str> = self.env.globals().map(|(k, _)| k).collect();
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([name.to_string()]);
        let mut out: BTreeMap<String, VariableUse> = BTreeMap::new();
        while let Some(current) = queue.pop_front() {
            if !seen.insert(current.clone()) {
                continue;
            }
            let Ok(template) = self.env.get_template(&current) else {
                continue;
            };
            let source = template.source();
            let (file, first_line) = self.origin(&current);
            let uses = first_uses(source);
            for variable in template.undeclared_variables(false) {
                if globals.contains(variable.as_str()) || out.contains_key(&variable) {
                    continue;
                }
                let line = uses
                    .get(variable.as_str())
                    .map(|line| first_line.saturating_add(line.saturating_sub(1)));
                out.insert(
                    variable,
                    VariableUse {
                        template: current.clone(),
                        file: file.clone(),
                        line,
                    },
                );
            }
            queue.extend(
                scan(&current, source)
                    .references
                    .into_iter()
                    .map(|r| r.path)
                    .filter(|path| !seen.contains(path)),
            );
        }
        out
    }

    /// The file a template lives in and the line of that file where it starts.
    fn origin(&self, name: &str) -> (String, usize) {
        self.origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| (name.to_string(), 1))
    }

    /// Renders a template with a case's variables, within [`RENDER_FUEL`].
    pub fn render(
        &self,
        name: &str,
        vars: &Map<String, Value>,
    ) -> Result<String, minijinja::Error> {
        self.render_metered(name, vars).map(|(text, _)| text)
    }

    /// Renders like [`Templates::render`], and says how much fuel the render burnt.
    pub fn render_metered(
        &self,
        name: &str,
        vars: &Map<String, Value>,
    ) -> Result<(String, u64), minijinja::Error> {
        let captured = self
            .env
            .get_template(name)?
            .render_captured(minijinja::Value::from(minijinja::value::Serde(vars)))?;
        let burnt = captured
            .state()
            .fuel_levels()
            .map_or(0, |(consumed, _)| consumed);
        Ok((captured.into_output(), burnt))
    }

    /// Whether a template compiled.
    pub fn contains(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// A template error as a diagnostic at the file and line it comes from; `context`
    /// (e.g. "case `c1`") says what was being rendered.
    pub fn diagnostic(&self, error: &minijinja::Error, context: Option<&str>) -> Diagnostic {
        let error = innermost(error);
        let what = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        let message = match context {
            Some(context) => format!("{what} (rendering {context})"),
            None => what,
        };
        self.located(error, message)
    }

    /// A render of `template` that ran out of [`RENDER_FUEL`], at the line where it
    /// stopped; `context` names the case.
    pub fn out_of_fuel(
        &self,
        template: &str,
        error: &minijinja::Error,
        context: &str,
    ) -> Diagnostic {
        let millions = RENDER_FUEL / 1_000_000;
        let message = format!(
            "rendering template `{template}` for {context} ran out of fuel: it did more work than the {millions} million steps one render may take (it stopped here)"
        );
        self.located(error, message).with_help(format!(
            "a render may run about {millions} million template instructions or produce about {} MB of text; look for loops over large `range(…)`s or nested loops, and loop over the case's own data instead",
            RENDER_FUEL * 64 / 1_000_000
        ))
    }

    /// `message` at the file and line the error points to (inside the included template
    /// that failed, when it comes from an include).
    fn located(&self, error: &minijinja::Error, message: String) -> Diagnostic {
        let error = innermost(error);
        let (file, first_line) = self.origin(error.name().unwrap_or_default());
        let diagnostic = Diagnostic::error(file, message);
        match error.line() {
            Some(line) => diagnostic.at_line(first_line.saturating_add(line.saturating_sub(1))),
            None => diagnostic,
        }
    }
}

/// A tag nested deeper than the engine can compile safely, at its file line: the
/// template is not compiled (a syntax error, as the engine would have reported it if it
/// could).
fn too_deep_diagnostic(file: &str, first_line: usize, deep: TooDeep) -> Diagnostic {
    let (message, help) = match deep.what {
        Nesting::Tag => (
            format!("syntax error: this tag nests more than {MAX_TAG_DEPTH} levels deep (operators, filters, attribute accesses, subscripts, calls and brackets chained in one expression)"),
            "split the expression with `{% set %}` steps, or compute the value in the case's `vars`",
        ),
        Nesting::IfChain => (
            format!("syntax error: `if` statements nest more than {MAX_IF_DEPTH} levels deep here (every `elif` counts as an `if` inside the branch before it)"),
            "use fewer `elif`s: look the value up in a mapping (`{{ answers[kind] }}`), or split the chain into separate `if` blocks",
        ),
    };
    Diagnostic::error(file, message)
        .at_line(first_line.saturating_add(deep.line.saturating_sub(1)))
        .with_help(help)
}

/// Whether a render error is the engine running out of fuel (in the template itself or in
/// one it includes).
pub fn is_out_of_fuel(error: &minijinja::Error) -> bool {
    innermost(error).kind() == ErrorKind::OutOfFuel
}

/// The error where the problem is: an error in an included template comes wrapped in one
/// at the `include` tag ("could not render include"), with the included template's own
/// error, at its own line, as its source.
fn innermost(error: &minijinja::Error) -> &minijinja::Error {
    let mut current = error;
    while let Some(inner) = std::error::Error::source(current)
        .and_then(|source| source.downcast_ref::<minijinja::Error>())
        .filter(|inner| inner.name().is_some())
    {
        current = inner;
    }
    current
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
        let vars: Vec<_> = t.variables("p/a.md").into_keys().collect();
        assert_eq!(vars, vec!["n", "tone", "user"]);
    }

    #[test]
    fn only_the_final_newline_of_a_file_is_dropped() {
        let (t, problems) = compile(&[
            ("p/a.md", "Tone: {% include './b.md' %}\nQ: {{ q }}\n\n"),
            ("p/b.md", "warm\n"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        let vars = serde_json::json!({"q": "why?"});
        assert_eq!(
            t.render("p/a.md", vars.as_object().unwrap()).unwrap(),
            "Tone: warm\nQ: why?\n"
        );
    }

    #[test]
    fn renders_strictly_and_reports_file_lines() {
        let (t, _) = compile(&[("p/a.md", "---\nmodel: x\n---\nHi {{ name }}\n")]);
        let vars = serde_json::json!({"name": "Ada"});
        // The file's final newline is not part of the prompt (as in Jinja and promptfoo).
        assert_eq!(
            t.render("p/a.md", vars.as_object().unwrap()).unwrap(),
            "Hi Ada"
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

    #[test]
    fn nested_huge_loops_run_out_of_fuel_at_their_line() {
        let (t, problems) = compile(&[(
            "p/a.md",
            "Hi\n{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\n",
        )]);
        assert!(problems.is_empty(), "{problems:?}");
        let err = t.render("p/a.md", &Map::new()).unwrap_err();
        assert!(is_out_of_fuel(&err), "{err}");
        let d = t.out_of_fuel("p/a.md", &err, "case `c1`");
        assert_eq!(d.location(), "p/a.md:2");
        assert!(
            d.message.contains("case `c1`") && d.message.contains("`p/a.md`"),
            "{d}"
        );
    }

    #[test]
    fn ordinary_renders_burn_little_fuel() {
        let (t, _) = compile(&[(
            "p/a.md",
            "{% for x in items %}- {{ x.q }}: {{ x.a | upper }}\n{% endfor %}",
        )]);
        let items: Vec<_> = (0..1000)
            .map(|i| serde_json::json!({"q": format!("question {i}"), "a": "an answer of some length"}))
            .collect();
        let vars = serde_json::json!({ "items": items });
        let (text, fuel) = t
            .render_metered("p/a.md", vars.as_object().unwrap())
            .unwrap();
        assert!(text.len() > 30_000);
        assert!(fuel > 0 && fuel < RENDER_FUEL / 50, "{fuel}");
    }

    #[test]
    fn variables_name_the_partial_and_line_that_use_them() {
        let (t, _) = compile(&[
            (
                "p/a.md",
                "---\nmodel: x\n---\n{{ q }}\n{% include './b.md' %}\n",
            ),
            (
                "p/b.md",
                "{# tone #}\n{{ \"tone\" }} {{ x.tone }}\n\n{{ tone | upper }}\n",
            ),
        ]);
        let vars = t.variables("p/a.md");
        assert_eq!(vars["q"].file, "p/a.md");
        assert_eq!(vars["q"].line, Some(4));
        assert_eq!(vars["tone"].template, "p/b.md");
        assert_eq!(vars["tone"].line, Some(4));
    }

    /// Chains 100,000 long overflowed the engine's recursive compiler (exit 134): the tag is
    /// reported at its file line, in a message or in an included file, and never compiled.
    #[test]
    fn too_deep_tags_are_diagnostics_at_their_line() {
        let chain = "|upper".repeat(100_000);
        let (t, problems) = compile(&[
            (
                "p/a.md",
                &format!("---\nmodel: x\n---\nok\n{{{{ q{chain} }}}}\n{{% include './b.md' %}}\n"),
            ),
            (
                "p/b.md",
                &format!("\n\n{{{{ {}q }}}}", "not ".repeat(100_000)),
            ),
        ]);
        let found: Vec<_> = problems.iter().map(|p| p.location()).collect();
        assert_eq!(found, vec!["p/a.md:5", "p/b.md:3"], "{problems:?}");
        assert!(
            problems[0].message.contains("500 levels"),
            "{}",
            problems[0]
        );
        assert!(!t.contains("p/a.md") && !t.contains("p/b.md"));
        assert!(t.variables("p/a.md").is_empty());
        assert!(t.render("p/a.md", &Map::new()).is_err());
    }

    /// The deepest tag allowed, inside the deepest `if`/`elif` nesting allowed, compiles, is
    /// walked and renders on a test thread's 2 MB stack.
    #[test]
    fn the_deepest_allowed_tag_is_safe() {
        let open = "{% if true %}".repeat(140);
        let close = "{% endif %}".repeat(140);
        let elifs = "{% elif false %}".repeat(MAX_IF_DEPTH - 141);
        let expression = format!("q{}", " ~ q".repeat(MAX_TAG_DEPTH - 1));
        let source = format!("{open}{{% if false %}}{elifs}{{% else %}}{{{{ {expression} }}}}{{% set y = {expression} %}}{{% endif %}}{close}");
        assert_eq!(too_deep(&source), None);
        let (t, problems) = compile(&[("p/a.md", &source)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(t.variables("p/a.md").len(), 1);
        let vars = serde_json::json!({"q": "x"});
        let text = t.render("p/a.md", vars.as_object().unwrap()).unwrap();
        assert_eq!(text.len(), MAX_TAG_DEPTH);
    }

    /// Random sources over the characters that matter to the lexers (delimiters, quotes,
    /// newlines, multibyte text), through every entry point: no panic, only diagnostics.
    #[test]
    fn random_sources_never_panic() {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "%",
            "#",
            "{%",
            "%}",
            "{{",
            "}}",
            "{#",
            "#}",
            "{%}",
            "{#}",
            "\"",
            "'",
            "\\",
            "-",
            "+",
            ".",
            "=",
            "(",
            ")",
            "[",
            "]",
            ",",
            "|",
            " ",
            "\n",
            "\r\n",
            "---\n",
            "a",
            "x",
            "é",
            "日本",
            "🦀",
            "include",
            "import",
            "from",
            "extends",
            "raw",
            "endraw",
            "for",
            "endfor",
            "in",
            "range",
            "if",
            "endif",
            "set",
            "'./b.md'",
            "\"b.md\"",
            "messages:\n  - role: user\n    content: ",
            "1e5",
            "0",
        ];
        let mut rng = 0x5eed_u64;
        let mut next = move || {
            // SplitMix64: a fixed seed, so a failure reproduces.
            rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as usize
        };
        let mut random = |max: usize| -> String {
            let n = next() % max;
            (0..n).map(|_| PIECES[next() % PIECES.len()]).collect()
        };
        let vars = serde_json::json!({"x": {"a": 1}, "a": "é", "b": [1, 2]});
        for _ in 0..3000 {
            let (a, b) = (random(40), random(20));
            for word in ["x", "a", "b", "tone"] {
                let _ = super::super::includes::first_use(&a, word);
            }
            let _ = scan("d/t.md", &a);
            for path in ["b.md", "t.yaml"] {
                let _ = parse(path, a.as_bytes());
            }
            let Ok(prompt) = parse("t.md", a.as_bytes()) else {
                continue;
            };
            let closure = Closure {
                files: [("t.md".to_string(), a.clone()), ("b.md".to_string(), b)]
                    .into_iter()
                    .collect(),
                problems: vec![],
            };
            let (t, problems) = Templates::compile(&[prompt], &closure);
            for p in &problems {
                let _ = p.to_string();
            }
            let _ = t.variables("t.md");
            if let Err(e) = t.render("t.md", vars.as_object().unwrap()) {
                let _ = t.diagnostic(&e, Some("case `c`")).to_string();
                let _ = t.out_of_fuel("t.md", &e, "case `c`").to_string();
            }
        }
    }
}
