//! Eval cases: one JSON object per line (JSONL) or a YAML list, each with a stable `id`,
//! `vars` for the templates, `assert`ions, and optional `difficulty`, `tags` and `weight`.
//! Every problem names the file and line.
//!
//! A suite may hold a million cases, so parsing keeps nothing per case beyond the case:
//! each JSONL line is read straight into its case (no intermediate JSON tree), the case list
//! is allocated once at its final size, and duplicate ids are found by sorting the cases'
//! indexes rather than with a second copy of every id.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::assert::Assertion;
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
    /// Free-form, for people: accepted and not kept.
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<serde::de::IgnoredAny>,
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
        let values = yaml_values(path, text)?;
        cases.reserve(values.len());
        for (line, value) in values {
            cases.add(case_from_value(path, line, value));
        }
    } else {
        let nonblank = |line: &&str| !line.trim().is_empty();
        cases.reserve(text.lines().filter(nonblank).count());
        // Line by line, so a large suite never holds its whole JSON tree at once.
        for (index, line) in text.lines().enumerate() {
            if nonblank(&line) {
                cases.add(jsonl_case(path, index + 1, line));
            }
        }
    }
    cases.finish()
}

/// Gathers cases and problems, then checks ids once all are read.
struct Collector<'a> {
    path: &'a str,
    cases: Vec<Case>,
    errors: Vec<Diagnostic>,
}

impl<'a> Collector<'a> {
    fn new(path: &'a str) -> Self {
        Collector {
            path,
            cases: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn reserve(&mut self, cases: usize) {
        self.cases.reserve_exact(cases);
    }

    fn add(&mut self, case: Result<Case, Vec<Diagnostic>>) {
        match case {
            Ok(case) => self.cases.push(case),
            Err(errors) => self.errors.extend(errors),
        }
    }

    fn finish(mut self) -> Result<Vec<Case>, Vec<Diagnostic>> {
        self.errors.extend(duplicate_ids(self.path, &self.cases));
        if self.errors.is_empty() {
            Ok(self.cases)
        } else {
            // In file order, as they were found.
            self.errors.sort_by_key(|d| d.line);
            Err(self.errors)
        }
    }
}

/// An error for every case whose id an earlier case already has, naming that case's line.
fn duplicate_ids(path: &str, cases: &[Case]) -> Vec<Diagnostic> {
    let mut order: Vec<usize> = (0..cases.len()).collect();
    // Stable: equal ids stay in file order, so the first of a run is the original.
    order.sort_by(|&a, &b| cases[a].id.cmp(&cases[b].id));
    let mut errors = Vec::new();
    for run in order.chunk_by(|&a, &b| cases[a].id == cases[b].id) {
        let first = &cases[run[0]];
        for &later in &run[1..] {
            errors.push(
                Diagnostic::error(
                    path,
                    format!(
                        "duplicate case id `{}` (first at line {})",
                        first.id, first.line
                    ),
                )
                .at_line(cases[later].line)
                .with_help("flips are tracked by id: give every case its own stable id"),
            );
        }
    }
    errors
}

/// One JSONL line as a case, read straight into the case's fields.
fn jsonl_case(path: &str, line: usize, text: &str) -> Result<Case, Vec<Diagnostic>> {
    let invalid_json = |e: serde_json::Error| {
        vec![Diagnostic::error(path, format!("invalid JSON: {e}"))
            .at_line(line)
            .at_column(e.column())
            .with_help("JSONL holds one JSON object per line")]
    };
    if !text.trim_start().starts_with('{') {
        // Not an object: say whether it is JSON at all, then that a case is an object.
        let value = serde_json::from_str::<Value>(text).map_err(invalid_json)?;
        return case_from_value(path, line, value);
    }
    match serde_json::from_str::<RawCase>(text) {
        Ok(raw) => case_from_raw(path, line, raw),
        Err(e) if e.is_data() => Err(vec![invalid_case(path, line, without_position(&e))]),
        Err(e) => Err(invalid_json(e)),
    }
}

/// A serde_json error's message without its " at line L column C" (the line is the file's).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

fn invalid_case(path: &str, line: usize, message: String) -> Diagnostic {
    Diagnostic::error(path, format!("invalid case: {message}"))
        .at_line(line)
        .with_help(
            "case keys are id, description, vars, assert, difficulty, tags, weight, metadata",
        )
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
    let raw: RawCase =
        serde_json::from_value(value).map_err(|e| vec![invalid_case(path, line, e.to_string())])?;
    case_from_raw(path, line, raw)
}

fn case_from_raw(path: &str, line: usize, raw: RawCase) -> Result<Case, Vec<Diagnostic>> {
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
    // Sized exactly: a collected `filter_map` would reserve room for four per case.
    let mut assertions = Vec::with_capacity(raw.assert.len());
    for (i, raw) in raw.assert.iter().enumerate() {
        match Assertion::parse(raw) {
            Ok(assertion) => assertions.push(assertion),
            Err(problem) => problems.push(
                Diagnostic::error(path, format!("case `{id}`, assertion {}: {problem}", i + 1))
                    .at_line(line),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut vars = raw.vars;
    vars.values_mut().for_each(shrink);
    let mut tags = raw.tags;
    tags.shrink_to_fit();
    Ok(Case {
        id,
        vars,
        assertions,
        difficulty: raw.difficulty,
        tags,
        weight: raw.weight,
        description: raw.description,
        line,
    })
}

/// Gives back the room a parsed JSON array keeps for growth (four slots for one element):
/// with a million cases, that slack is most of a suite's memory.
fn shrink(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.shrink_to_fit();
            items.iter_mut().for_each(shrink);
        }
        Value::Object(fields) => fields.values_mut().for_each(shrink),
        Value::String(text) => text.shrink_to_fit(),
        _ => {}
    }
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
    fn every_duplicate_names_the_first_case_with_its_id() {
        let errors = parse(
            "c.jsonl",
            b"{\"id\":\"x\"}\n{\"id\":\"y\"}\n{\"id\":\"x\"}\n{\"id\":\"x\"}\n",
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[0].contains("c.jsonl:3: duplicate case id `x` (first at line 1)"),
            "{text:?}"
        );
        assert!(
            text[1].contains("c.jsonl:4: duplicate case id `x` (first at line 1)"),
            "{text:?}"
        );
    }

    #[test]
    fn a_case_keeps_no_room_it_does_not_use() {
        // With a million cases, spare capacity per case is most of a suite's memory.
        let line = b"{\"id\":\"a\",\"vars\":{\"facts\":[\"one\"],\"q\":\"x\"},\"tags\":[\"t\"],\"assert\":[{\"type\":\"contains\",\"value\":\"x\"}],\"metadata\":{\"big\":[1,2,3]}}\n";
        let text = [line.as_slice(), b"\n"].concat();
        for (path, bytes) in [
            ("c.jsonl", text),
            (
                "c.yaml",
                b"- id: a\n  vars: {facts: [one], q: x}\n  tags: [t]\n  assert: [{type: contains, value: x}]\n".to_vec(),
            ),
        ] {
            let cases = parse(path, &bytes).unwrap();
            assert_eq!(cases.capacity(), 1, "{path}");
            let case = &cases[0];
            assert_eq!(case.assertions.capacity(), 1, "{path}");
            assert_eq!(case.tags.capacity(), 1, "{path}");
            let Some(Value::Array(facts)) = case.vars.get("facts") else {
                panic!("{path}: {:?}", case.vars)
            };
            assert_eq!(facts.capacity(), 1, "{path}");
        }
    }

    #[test]
    fn not_an_object_and_unknown_keys_say_so_without_a_json_position() {
        let errors =
            parse("c.jsonl", b"[1]\n{\"id\":\"a\",\"vars\":[]}\n{\"id\": }\n").unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].contains("c.jsonl:1: a case must be an object"),
            "{text:?}"
        );
        assert!(
            text[1].contains("c.jsonl:2: invalid case: invalid type: sequence, expected a map"),
            "{text:?}"
        );
        assert!(!text[1].contains("column"), "{text:?}");
        assert!(text[2].contains("c.jsonl:3:8: invalid JSON"), "{text:?}");
    }

    #[test]
    fn bad_json_line_has_column() {
        let errors = parse("c.jsonl", b"{\"id\":\"a\"}\n{\"id\": }\n").unwrap_err();
        assert_eq!(errors[0].location(), "c.jsonl:2:8");
    }
}
