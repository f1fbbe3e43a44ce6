//! Eval cases: one JSON object per line (JSONL) or a YAML list, each with a stable `id`,
//! `vars` for the templates, `assert`ions, and optional `difficulty`, `tags` and `weight`.
//! Every problem names the file and line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub vars: Map<String, Value>,
    pub assert: Vec<Value>,
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
    let values = if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")
    {
        yaml_values(path, text)?
    } else {
        jsonl_values(path, text)?
    };
    let mut cases = Vec::with_capacity(values.len());
    let mut errors = Vec::new();
    let mut first_line_of: BTreeMap<String, usize> = BTreeMap::new();
    for (line, value) in values {
        match case_from_value(path, line, value) {
            Ok(case) => {
                if let Some(first) = first_line_of.insert(case.id.clone(), line) {
                    errors.push(
                        Diagnostic::error(
                            path,
                            format!("duplicate case id `{}` (first at line {first})", case.id),
                        )
                        .at_line(line)
                        .with_help("flips are tracked by id: give every case its own stable id"),
                    );
                }
                cases.push(case);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn jsonl_values(path: &str, text: &str) -> Result<Vec<(usize, Value)>, Vec<Diagnostic>> {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value) => values.push((index + 1, value)),
            Err(e) => {
                errors.push(
                    Diagnostic::error(path, format!("invalid JSON: {e}"))
                        .at_line(index + 1)
                        .at_column(e.column())
                        .with_help("JSONL holds one JSON object per line"),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
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

fn case_from_value(path: &str, line: usize, value: Value) -> Result<Case, Diagnostic> {
    let at = |message: String| Diagnostic::error(path, message).at_line(line);
    if !value.is_object() {
        return Err(at(
            "a case must be an object with `id`, `vars` and `assert`".into(),
        ));
    }
    let raw: RawCase = serde_json::from_value(value).map_err(|e| {
        at(format!("invalid case: {e}")).with_help(
            "case keys are id, description, vars, assert, difficulty, tags, weight, metadata",
        )
    })?;
    let id = match raw.id {
        Some(CaseId::Text(id)) if !id.trim().is_empty() => id,
        Some(CaseId::Number(n)) => n.to_string(),
        _ => {
            return Err(at("case has no `id`".into()).with_help(
                "give every case a stable `id`: regressions are tracked by it across revisions",
            ))
        }
    };
    Ok(Case {
        id,
        vars: raw.vars,
        assert: raw.assert,
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
