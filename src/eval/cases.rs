//! Eval cases: one JSON object per line (JSONL) or a YAML list, each with a stable `id`,
//! `vars` for the templates, `assert`ions, and optional `difficulty`, `tags` and `weight`.
//! Every problem names the file and line.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::assertions::Assertion;
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub vars: Map<String, Value>,
    /// The case's `assert` list, parsed and compiled.
    pub assertions: Vec<Assertion>,
    pub difficulty: Option<f64>,
    pub tags: Vec<String>,
    pub weight: Option<f64>,
    pub description: Option<String>,
    /// 1-based line where the case starts in its file.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: Option<CaseId>,
    #[serde(default)]
    vars: Map<String, Value>,
    #[serde(default)]
    assert: Vec<Value>,
    difficulty: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    weight: Option<f64>,
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CaseId {
    Text(String),
    Number(i64),
}

/// Parses a case file by its extension (`.jsonl`/`.ndjson`, `.yaml`/`.yml`, `.json`).
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<Case>, Vec<Diagnostic>> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        vec![Diagnostic::error(path, "the case file is not valid UTF-8")
            .with_help("save it as UTF-8")]
    })?;
    let lower = path.to_ascii_lowercase();
    let mut cases = Collector::new(path);
    if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
        for (line, value) in yaml_values(path, text)? {
            cases.add(line, Ok(value));
        }
    } else {
        // Line by line, so a large suite never holds its whole JSON tree at once.
        for (index, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                cases.add(index + 1, jsonl_value(path, index + 1, line));
            }
        }
    }
    cases.finish()
}

/// Turns values into cases, checking ids as they come.
struct Collector<'a> {
    path: &'a str,
    cases: Vec<Case>,
    errors: Vec<Diagnostic>,
    first_line_of: HashMap<String, usize>,
}

impl<'a> Collector<'a> {
    fn new(path: &'a str) -> Self {
        Collector {
            path,
            cases: Vec::new(),
            errors: Vec::new(),
            first_line_of: HashMap::new(),
        }
    }

    fn add(&mut self, line: usize, value: Result<Value, Diagnostic>) {
        let case = match value
            .map_err(|e| vec![e])
            .and_then(|value| case_from_value(self.path, line, value))
        {
            Ok(case) => case,
            Err(errors) => return self.errors.extend(errors),
        };
        if let Some(first) = self.first_line_of.insert(case.id.clone(), line) {
            self.errors.push(
                Diagnostic::error(
                    self.path,
                    format!("duplicate case id `{}` (first at line {first})", case.id),
                )
                .at_line(line)
                .with_help("flips are tracked by id: give every case its own stable id"),
            );
        }
        self.cases.push(case);
    }

    fn finish(self) -> Result<Vec<Case>, Vec<Diagnostic>> {
        if self.errors.is_empty() {
            Ok(self.cases)
        } else {
            Err(self.errors)
        }
    }
}

fn jsonl_value(path: &str, line: usize, text: &str) -> Result<Value, Diagnostic> {
    serde_json::from_str::<Value>(text).map_err(|e| {
        Diagnostic::error(path, format!("invalid JSON: {e}"))
            .at_line(line)
            .at_column(e.column())
            .with_help("JSONL holds one JSON object per line")
    })
}

fn yaml_values(path: &str, text: &str) -> Result<Vec<(usize, Value)>, Vec<Diagnostic>> {
    let items: Vec<serde_saphyr::Spanned<Value>> = serde_saphyr::from_str(text).map_err(|e| {
        vec![crate::prompts::yaml_error(path, &e, 0)
            .with_help("a YAML case file is a list of cases: `- id: …`")]
    })?;
    Ok(items
        .into_iter()
        .map(|item| (item.referenced.line() as usize, item.value))
        .collect())
}

fn case_from_value(path: &str, line: usize, value: Value) -> Result<Case, Vec<Diagnostic>> {
    let at = |message: String| vec![Diagnostic::error(path, message).at_line(line)];
    if !value.is_object() {
        return Err(at(
            "a case must be an object with `id`, `vars` and `assert`".into(),
        ));
    }
    let raw: RawCase = serde_json::from_value(value).map_err(|e| {
        vec![Diagnostic::error(path, format!("invalid case: {e}"))
            .at_line(line)
            .with_help(
                "case keys are id, description, vars, assert, difficulty, tags, weight, metadata",
            )]
    })?;
    let id = match raw.id {
        Some(CaseId::Text(id)) if !id.trim().is_empty() => id,
        Some(CaseId::Number(n)) => n.to_string(),
        _ => {
            return Err(vec![Diagnostic::error(path, "case has no `id`")
                .at_line(line)
                .with_help(
                    "give every case a stable `id`: regressions are tracked by it across revisions",
                )])
        }
    };
    let mut problems = Vec::new();
    let assertions = raw
        .assert
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            Assertion::parse(raw)
                .map_err(|problem| {
                    problems.push(
                        Diagnostic::error(
                            path,
                            format!("case `{id}`, assertion {}: {problem}", i + 1),
                        )
                        .at_line(line),
                    )
                })
                .ok()
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Case {
        id,
        vars: raw.vars,
        assertions,
        difficulty: raw.difficulty,
        tags: raw.tags,
        weight: raw.weight,
        description: raw.description,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_cases_with_lines() {
        let cases = parse(
            "c.jsonl",
            b"{\"id\":\"a\",\"vars\":{\"q\":1}}\n\n{\"id\":7}\n",
        )
        .unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!((cases[1].id.as_str(), cases[1].line), ("7", 3));
    }

    #[test]
    fn yaml_cases_with_lines() {
        let cases = parse(
            "c.yaml",
            b"- id: a\n  vars: {q: 1}\n- id: b\n  difficulty: 3\n",
        )
        .unwrap();
        assert_eq!(
            (cases[1].id.as_str(), cases[1].line, cases[1].difficulty),
            ("b", 3, Some(3.0))
        );
    }

    #[test]
    fn missing_and_duplicate_ids_and_unknown_keys() {
        let errors = parse(
            "c.jsonl",
            b"{\"vars\":{}}\n{\"id\":\"x\"}\n{\"id\":\"x\"}\n{\"id\":\"y\",\"bogus\":1}\n",
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with("error: c.jsonl:1: case has no `id`"),
            "{text:?}"
        );
        assert!(
            text[1].contains("c.jsonl:3: duplicate case id `x` (first at line 2)"),
            "{text:?}"
        );
        assert!(
            text[2].contains("c.jsonl:4: invalid case: unknown field `bogus`"),
            "{text:?}"
        );
    }

    #[test]
    fn bad_json_line_has_column() {
        let errors = parse("c.jsonl", b"{\"id\":\"a\"}\n{\"id\": }\n").unwrap_err();
        assert_eq!(errors[0].location(), "c.jsonl:2:8");
    }
}
