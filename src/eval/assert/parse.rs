//! Reading a case's assertion values (JSON, or YAML read into JSON) into typed assertions:
//! the type with its `not-` prefix (and a "did you mean" suggestion for a typo), the keys
//! allowed beside it, `weight`, `threshold` and `metric`, and the value each type needs,
//! compiled here (regexes, JSON schemas, word ranges, argvs, comma lists) so that every
//! error names the assertion and its problem before any model call.

use regex::Regex;
use serde_json::{Map, Value};

use super::text::{describe, num};
use super::{Assertion, Check, Kind, WordRange, NEGATION_PREFIX};

/// What `threshold` means for a type, if anything.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ThresholdRole {
    Unused,
    MaxDistance,
    MaxMs,
    MaxUsd,
    MinScore,
}

const KEYS: [&str; 5] = ["type", "value", "weight", "threshold", "metric"];
const DEFAULT_MAX_DISTANCE: f64 = 5.0;

impl Kind {
    fn threshold_role(self) -> ThresholdRole {
        match self {
            Kind::Levenshtein => ThresholdRole::MaxDistance,
            Kind::Latency => ThresholdRole::MaxMs,
            Kind::Cost => ThresholdRole::MaxUsd,
            Kind::LlmRubric | Kind::Exec => ThresholdRole::MinScore,
            _ => ThresholdRole::Unused,
        }
    }
}

/// The body of [`Assertion::parse`].
pub(super) fn assertion(raw: &Value) -> Result<Assertion, String> {
    let Value::Object(fields) = raw else {
        return Err(format!(
            "an assertion must be an object with a \"type\", got {}",
            describe(raw)
        ));
    };
    let written = read_type(fields)?;
    let (negate, kind) = split_type(written)?;
    let problem = |message: String| format!("assertion \"{written}\": {message}");
    reject_unknown_keys(fields).map_err(problem)?;
    let weight = read_weight(fields.get("weight")).map_err(problem)?;
    let threshold = read_threshold(fields.get("threshold")).map_err(problem)?;
    let metric = read_metric(fields.get("metric")).map_err(problem)?;
    let value = fields
        .get("value")
        .filter(|value| !value.is_null())
        .cloned();
    let check = compile(kind, value.as_ref(), threshold).map_err(problem)?;
    Ok(Assertion {
        kind,
        negate,
        value,
        weight,
        threshold,
        metric,
        check,
    })
}

fn read_type(fields: &Map<String, Value>) -> Result<&str, String> {
    match fields.get("type") {
        Some(Value::String(written)) => Ok(written),
        Some(other) => Err(format!(
            "an assertion's \"type\" must be a string, got {}; {}",
            describe(other),
            valid_types()
        )),
        None => Err(format!("an assertion has no \"type\"; {}", valid_types())),
    }
}

fn split_type(written: &str) -> Result<(bool, Kind), String> {
    let (negate, base) = match written.strip_prefix(NEGATION_PREFIX) {
        Some(base) => (true, base),
        None => (false, written),
    };
    match Kind::from_name(base) {
        Some(kind) => Ok((negate, kind)),
        None => Err(unknown_type(written, negate, base)),
    }
}

fn unknown_type(written: &str, negate: bool, base: &str) -> String {
    let prefix = if negate { NEGATION_PREFIX } else { "" };
    let suggestion = closest_type(base)
        .map(|name| format!(" (did you mean \"{prefix}{name}\"?)"))
        .unwrap_or_default();
    format!(
        "unknown assertion type \"{written}\"{suggestion}; {}",
        valid_types()
    )
}

/// A likely intended type for a typo, if one is close enough to be worth suggesting.
fn closest_type(base: &str) -> Option<&'static str> {
    Kind::ALL
        .into_iter()
        .map(|kind| (strsim::levenshtein(base, kind.name()), kind.name()))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn valid_types() -> String {
    let names: Vec<&str> = Kind::ALL.into_iter().map(Kind::name).collect();
    format!(
        "valid types: {} (prefix any of them with \"{NEGATION_PREFIX}\" to negate it)",
        names.join(", ")
    )
}

fn reject_unknown_keys(fields: &Map<String, Value>) -> Result<(), String> {
    match fields.keys().find(|key| !KEYS.contains(&key.as_str())) {
        Some(key) => Err(format!(
            "unknown key \"{key}\"; valid keys: {}",
            KEYS.join(", ")
        )),
        None => Ok(()),
    }
}

fn read_weight(raw: Option<&Value>) -> Result<f64, String> {
    match raw {
        None | Some(Value::Null) => Ok(1.0),
        Some(value) => match value.as_f64() {
            Some(weight) if weight >= 0.0 && weight.is_finite() => Ok(weight),
            _ => Err(format!(
                "\"weight\" must be a number >= 0, got {}",
                describe(value)
            )),
        },
    }
}

fn read_threshold(raw: Option<&Value>) -> Result<Option<f64>, String> {
    match raw {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_f64() {
            Some(threshold) if threshold.is_finite() => Ok(Some(threshold)),
            _ => Err(format!(
                "\"threshold\" must be a number, got {}",
                describe(value)
            )),
        },
    }
}

fn read_metric(raw: Option<&Value>) -> Result<Option<String>, String> {
    match raw {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(Some(name.clone())),
        Some(other) => Err(format!(
            "\"metric\" must be a non-empty name, got {}",
            describe(other)
        )),
    }
}

/// Checks the value and threshold a kind needs and compiles them.
fn compile(kind: Kind, value: Option<&Value>, threshold: Option<f64>) -> Result<Check, String> {
    let threshold = check_threshold(kind, threshold)?;
    match kind {
        Kind::Equals => Ok(equals_check(required(value, "the expected output")?)),
        Kind::Contains | Kind::Icontains => Ok(Check::Contains {
            needle: text_value(required(value, "the text to look for")?)?,
            ignore_case: kind == Kind::Icontains,
        }),
        Kind::StartsWith => Ok(Check::StartsWith(text_value(required(
            value,
            "the text the output must start with",
        )?)?)),
        Kind::ContainsAny | Kind::IcontainsAny => Ok(Check::ContainsAny {
            needles: list_value(required(value, "the texts to look for")?)?,
            ignore_case: kind == Kind::IcontainsAny,
        }),
        Kind::ContainsAll | Kind::IcontainsAll => Ok(Check::ContainsAll {
            needles: list_value(required(value, "the texts to look for")?)?,
            ignore_case: kind == Kind::IcontainsAll,
        }),
        Kind::Regex => regex_check(required(value, "the pattern to match")?),
        Kind::IsJson => Ok(Check::IsJson(optional_schema(value)?)),
        Kind::ContainsJson => Ok(Check::ContainsJson(optional_schema(value)?)),
        Kind::JsonSchema => Ok(Check::JsonSchema(compile_schema(required(
            value,
            "the JSON schema the output must satisfy",
        )?)?)),
        Kind::WordCount => Ok(Check::WordCount(word_range(required(
            value,
            "a word count, or {min, max}",
        )?)?)),
        Kind::Levenshtein => Ok(Check::Levenshtein {
            target: string_value(required(value, "the text to compare with")?)?,
            max_distance: threshold.unwrap_or(DEFAULT_MAX_DISTANCE),
        }),
        Kind::Latency => Ok(Check::Latency {
            max_ms: facts_threshold(value, threshold, "the most milliseconds the call may take")?,
        }),
        Kind::Cost => Ok(Check::Cost {
            max_usd: facts_threshold(value, threshold, "the most USD the call may cost")?,
        }),
        Kind::LlmRubric => Ok(Check::Rubric {
            rubric: rubric_value(required(value, "the rubric to grade against")?)?,
            min_score: threshold,
        }),
        Kind::Exec => Ok(Check::Exec {
            argv: argv_value(required(value, "the grader command")?)?,
            min_score: threshold,
        }),
    }
}

/// Validates `threshold` against what it means for `kind`.
fn check_threshold(kind: Kind, threshold: Option<f64>) -> Result<Option<f64>, String> {
    let Some(limit) = threshold else {
        return Ok(None);
    };
    match kind.threshold_role() {
        ThresholdRole::Unused => Err(
            "\"threshold\" has no meaning for this type (only levenshtein, latency, cost, \
             llm-rubric and exec use it)"
                .to_string(),
        ),
        ThresholdRole::MinScore if !(0.0..=1.0).contains(&limit) => Err(format!(
            "\"threshold\" is the minimum score, between 0 and 1; got {}",
            num(limit)
        )),
        ThresholdRole::MaxDistance | ThresholdRole::MaxMs | ThresholdRole::MaxUsd
            if limit < 0.0 =>
        {
            Err(format!("\"threshold\" must be >= 0, got {}", num(limit)))
        }
        _ => Ok(Some(limit)),
    }
}

/// `latency` and `cost` grade the call, not the text: they need a threshold, not a value.
fn facts_threshold(
    value: Option<&Value>,
    threshold: Option<f64>,
    meaning: &str,
) -> Result<f64, String> {
    if value.is_some() {
        return Err(format!("takes no \"value\"; set \"threshold\" ({meaning})"));
    }
    threshold.ok_or_else(|| format!("needs a \"threshold\": {meaning}"))
}

fn required<'v>(value: Option<&'v Value>, meaning: &str) -> Result<&'v Value, String> {
    value.ok_or_else(|| format!("needs a \"value\": {meaning}"))
}

/// A string is compared as text; any other value as JSON.
fn equals_check(value: &Value) -> Check {
    match value {
        Value::String(text) => Check::EqualsText(text.clone()),
        other => Check::EqualsJson(other.clone()),
    }
}

/// A text to look for: a non-empty string, or a number written as it reads.
fn text_value(value: &Value) -> Result<String, String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => {
            return Err(format!(
                "\"value\" must be a string or a number, got {}",
                describe(other)
            ))
        }
    };
    if text.is_empty() {
        return Err("\"value\" must not be empty (every output contains \"\")".to_string());
    }
    Ok(text)
}

fn string_value(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        other => Err(format!(
            "\"value\" must be a string, got {}",
            describe(other)
        )),
    }
}

/// A list of texts: a JSON list, or a comma-separated string (double quotes keep commas).
fn list_value(value: &Value) -> Result<Vec<String>, String> {
    let items = match value {
        Value::String(text) => split_comma_list(text)?,
        Value::Array(items) => items
            .iter()
            .map(text_value)
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(format!(
                "\"value\" must be a list of strings or a comma-separated string, got {}",
                describe(other)
            ))
        }
    };
    if items.is_empty() {
        return Err("\"value\" must list at least one text".to_string());
    }
    if items.iter().any(String::is_empty) {
        return Err("\"value\" must not list an empty text".to_string());
    }
    Ok(items)
}

fn regex_check(value: &Value) -> Result<Check, String> {
    let pattern = string_value(value)?;
    Regex::new(&pattern)
        .map(Check::Matches)
        .map_err(|error| format!("invalid regex {pattern:?}: {error}"))
}

/// The optional schema of `is-json` and `contains-json`; an empty string means none.
fn optional_schema(value: Option<&Value>) -> Result<Option<Box<jsonschema::Validator>>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(schema) => compile_schema(schema).map(Some),
    }
}

/// A schema given as JSON, or as a string holding JSON (promptfoo accepts both).
fn compile_schema(value: &Value) -> Result<Box<jsonschema::Validator>, String> {
    let parsed;
    let schema = match value {
        Value::String(text) if text.starts_with("file://") => {
            return Err("file:// schema references are not supported; inline the schema".into())
        }
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text)
                .map_err(|error| format!("\"value\" is a string but not a JSON schema: {error}"))?;
            &parsed
        }
        other => other,
    };
    jsonschema::validator_for(schema)
        .map(Box::new)
        .map_err(|error| format!("\"value\" is not a valid JSON schema: {error}"))
}

fn word_range(value: &Value) -> Result<WordRange, String> {
    let Value::Object(bounds) = value else {
        let exact = word_bound(value, "value")?;
        return Ok(WordRange {
            min: Some(exact),
            max: Some(exact),
        });
    };
    if let Some(key) = bounds
        .keys()
        .find(|key| !["min", "max"].contains(&key.as_str()))
    {
        return Err(format!(
            "unknown key \"{key}\" in \"value\"; use min and/or max"
        ));
    }
    let min = bounds
        .get("min")
        .map(|raw| word_bound(raw, "min"))
        .transpose()?;
    let max = bounds
        .get("max")
        .map(|raw| word_bound(raw, "max"))
        .transpose()?;
    match (min, max) {
        (None, None) => Err("\"value\" needs \"min\" and/or \"max\"".to_string()),
        (Some(low), Some(high)) if low > high => {
            Err(format!("\"min\" ({low}) is greater than \"max\" ({high})"))
        }
        _ => Ok(WordRange { min, max }),
    }
}

/// A whole number of words; a string holding one is accepted, as promptfoo does.
fn word_bound(raw: &Value, name: &str) -> Result<u64, String> {
    let count = match raw {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    count.ok_or_else(|| {
        format!(
            "\"{name}\" must be a whole number of words, got {}",
            describe(raw)
        )
    })
}

/// A rubric is prose; structured rubrics (promptfoo allows objects) are sent as JSON.
fn rubric_value(value: &Value) -> Result<String, String> {
    let rubric = match value {
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).map_err(|error| error.to_string())?,
    };
    if rubric.trim().is_empty() {
        return Err("the rubric must not be empty".to_string());
    }
    Ok(rubric)
}

/// The grader's argv: a list of strings, or one string split on whitespace (no shell, so
/// no quoting: use the list form for arguments with spaces).
fn argv_value(value: &Value) -> Result<Vec<String>, String> {
    let argv: Vec<String> = match value {
        Value::String(command) => command.split_whitespace().map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(arg) => Ok(arg.clone()),
                other => Err(format!(
                    "every argument must be a string, got {}",
                    describe(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "\"value\" must be a command: a list of strings or a string, got {}",
                describe(other)
            ))
        }
    };
    match argv.first() {
        Some(program) if !program.trim().is_empty() => Ok(argv),
        _ => Err("\"value\" must name a program to run".to_string()),
    }
}

/// Splits `a, b, "c, d"` like promptfoo: commas separate, double quotes keep commas (`\"` or
/// `""` for a quote inside), surrounding whitespace and repeated commas are dropped.
fn split_comma_list(text: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            return Ok(items);
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            let (item, after) = quoted_item(quoted)?;
            items.push(item);
            rest = after.trim_start();
            if !(rest.is_empty() || rest.starts_with(',')) {
                return Err("a quoted item in \"value\" must be followed by a comma".to_string());
            }
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            items.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
}

/// The quoted item at the start of `text` (after its opening quote), and what follows it.
fn quoted_item(text: &str) -> Result<(String, &str), String> {
    let mut item = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let next = chars.peek().map(|(_, next)| *next);
        match (c, next) {
            ('\\', Some(escaped @ ('"' | '\\'))) | ('"', Some(escaped @ '"')) => {
                item.push(escaped);
                chars.next();
            }
            ('"', _) => return Ok((item, &text[index + 1..])),
            (other, _) => item.push(other),
        }
    }
    Err("a quoted item in \"value\" is not closed".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_grade, facts, parse, parse_error, person_schema, strings};
    use super::super::Evaluation;
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_reads_every_field() {
        let assertion = parse(json!({
            "type": "not-icontains", "value": "Refund", "weight": 2.5, "metric": "tone"
        }));
        assert_eq!(assertion.kind, Kind::Icontains);
        assert!(assertion.negate);
        assert_eq!(assertion.value, Some(json!("Refund")));
        assert_eq!(assertion.weight, 2.5);
        assert_eq!(assertion.threshold, None);
        assert_eq!(assertion.metric.as_deref(), Some("tone"));
        assert_eq!(assertion.type_name(), "not-icontains");
    }

    #[test]
    fn parse_defaults_weight_to_one() {
        let assertion = parse(json!({"type": "contains", "value": "x"}));
        assert_eq!(assertion.weight, 1.0);
        assert!(!assertion.negate);
        assert_eq!(assertion.type_name(), "contains");
    }

    #[test]
    fn unknown_type_lists_the_valid_ones_and_the_not_prefix() {
        let error = parse_error(json!({"type": "similar", "value": "x"}));
        assert!(
            error.contains("unknown assertion type \"similar\""),
            "{error}"
        );
        for kind in Kind::ALL {
            assert!(error.contains(kind.name()), "{error} lacks {}", kind.name());
        }
        assert!(error.contains("\"not-\""), "{error}");
    }

    #[test]
    fn unknown_type_suggests_a_close_name_keeping_the_prefix() {
        let error = parse_error(json!({"type": "not-containz", "value": "x"}));
        assert!(error.contains("did you mean \"not-contains\"?"), "{error}");
        let error = parse_error(json!({"type": "wholly-different", "value": "x"}));
        assert!(!error.contains("did you mean"), "{error}");
    }

    #[test]
    fn missing_or_non_string_type_is_an_error() {
        let error = parse_error(json!({"value": "x"}));
        assert!(error.contains("no \"type\""), "{error}");
        assert!(error.contains("valid types"), "{error}");
        let error = parse_error(json!({"type": 3}));
        assert!(error.contains("must be a string"), "{error}");
        let error = parse_error(json!("contains"));
        assert!(error.contains("must be an object"), "{error}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let error = parse_error(json!({"type": "contains", "value": "x", "valeu": "y"}));
        assert!(error.starts_with("assertion \"contains\":"), "{error}");
        assert!(error.contains("unknown key \"valeu\""), "{error}");
        assert!(
            error.contains("type, value, weight, threshold, metric"),
            "{error}"
        );
    }

    #[test]
    fn missing_value_is_an_error_naming_the_type() {
        for type_name in [
            "equals",
            "contains",
            "not-icontains",
            "contains-any",
            "icontains-all",
            "regex",
            "starts-with",
            "json-schema",
            "word-count",
            "levenshtein",
            "llm-rubric",
            "exec",
        ] {
            let error = parse_error(json!({"type": type_name}));
            assert!(
                error.starts_with(&format!("assertion \"{type_name}\":")),
                "{error}"
            );
            assert!(error.contains("needs a \"value\""), "{error}");
            let error = parse_error(json!({"type": type_name, "value": null}));
            assert!(error.contains("needs a \"value\""), "{error}");
        }
    }

    #[test]
    fn wrong_value_types_are_errors() {
        let cases = [
            (
                json!({"type": "contains", "value": ["a"]}),
                "string or a number",
            ),
            (
                json!({"type": "contains", "value": ""}),
                "must not be empty",
            ),
            (
                json!({"type": "starts-with", "value": true}),
                "string or a number",
            ),
            (
                json!({"type": "contains-any", "value": 3}),
                "list of strings",
            ),
            (json!({"type": "contains-all", "value": []}), "at least one"),
            (
                json!({"type": "contains-any", "value": ["a", {}]}),
                "string or a number",
            ),
            (
                json!({"type": "contains-any", "value": " , ,"}),
                "at least one",
            ),
            (
                json!({"type": "contains-any", "value": "\"a, b"}),
                "not closed",
            ),
            (
                json!({"type": "contains-any", "value": "\"a\" b, c"}),
                "followed by a comma",
            ),
            (json!({"type": "regex", "value": 5}), "must be a string"),
            (
                json!({"type": "levenshtein", "value": 5}),
                "must be a string",
            ),
            (json!({"type": "word-count", "value": -1}), "whole number"),
            (json!({"type": "word-count", "value": 2.5}), "whole number"),
            (
                json!({"type": "word-count", "value": {}}),
                "\"min\" and/or \"max\"",
            ),
            (
                json!({"type": "word-count", "value": {"min": 5, "max": 2}}),
                "greater than",
            ),
            (
                json!({"type": "word-count", "value": {"least": 5}}),
                "unknown key \"least\"",
            ),
            (json!({"type": "exec", "value": 5}), "a command"),
            (json!({"type": "exec", "value": "   "}), "name a program"),
            (json!({"type": "exec", "value": []}), "name a program"),
            (
                json!({"type": "exec", "value": ["sh", 1]}),
                "must be a string",
            ),
            (
                json!({"type": "llm-rubric", "value": "  "}),
                "must not be empty",
            ),
        ];
        for (raw, expected) in cases {
            let error = parse_error(raw.clone());
            assert!(error.contains(expected), "{raw}: {error}");
        }
    }

    #[test]
    fn bad_regex_is_an_error_quoting_the_pattern() {
        let error = parse_error(json!({"type": "regex", "value": "(unclosed"}));
        assert!(
            error.starts_with("assertion \"regex\": invalid regex \"(unclosed\""),
            "{error}"
        );
    }

    #[test]
    fn bad_schema_is_an_error() {
        for type_name in ["is-json", "contains-json", "json-schema", "not-json-schema"] {
            let error = parse_error(json!({"type": type_name, "value": {"type": 5}}));
            assert!(
                error.contains("not a valid JSON schema"),
                "{type_name}: {error}"
            );
            assert!(
                error.starts_with(&format!("assertion \"{type_name}\"")),
                "{error}"
            );
        }
        let error = parse_error(json!({"type": "json-schema", "value": "{not json"}));
        assert!(error.contains("not a JSON schema"), "{error}");
        let error = parse_error(json!({"type": "is-json", "value": "file://schema.json"}));
        assert!(error.contains("file://"), "{error}");
    }

    #[test]
    fn schema_with_remote_ref_is_rejected_at_parse_time() {
        let error = parse_error(json!({
            "type": "json-schema",
            "value": {"$ref": "https://example.invalid/schema.json"}
        }));
        assert!(error.contains("not a valid JSON schema"), "{error}");
    }

    #[test]
    fn weight_threshold_and_metric_are_checked() {
        let cases = [
            (
                json!({"type": "contains", "value": "a", "weight": -1}),
                "\"weight\" must be",
            ),
            (
                json!({"type": "contains", "value": "a", "weight": "2"}),
                "\"weight\" must be",
            ),
            (
                json!({"type": "latency", "threshold": "fast"}),
                "\"threshold\" must be a number",
            ),
            (
                json!({"type": "contains", "value": "a", "metric": 3}),
                "\"metric\" must be",
            ),
            (
                json!({"type": "contains", "value": "a", "metric": " "}),
                "\"metric\" must be",
            ),
            (
                json!({"type": "contains", "value": "a", "threshold": 0.5}),
                "no meaning",
            ),
            (
                json!({"type": "llm-rubric", "value": "r", "threshold": 7}),
                "between 0 and 1",
            ),
            (
                json!({"type": "exec", "value": "true", "threshold": -0.1}),
                "between 0 and 1",
            ),
            (json!({"type": "latency", "threshold": -5}), "must be >= 0"),
            (
                json!({"type": "levenshtein", "value": "a", "threshold": -1}),
                "must be >= 0",
            ),
        ];
        for (raw, expected) in cases {
            let error = parse_error(raw.clone());
            assert!(error.contains(expected), "{raw}: {error}");
        }
        let informational = parse(json!({"type": "contains", "value": "a", "weight": 0}));
        assert_eq!(informational.weight, 0.0);
    }

    #[test]
    fn latency_and_cost_need_a_threshold_and_no_value() {
        for type_name in ["latency", "cost", "not-latency"] {
            let error = parse_error(json!({"type": type_name}));
            assert!(error.contains("needs a \"threshold\""), "{error}");
            let error = parse_error(json!({"type": type_name, "value": 200}));
            assert!(error.contains("takes no \"value\""), "{error}");
        }
    }

    #[test]
    fn comma_separated_lists_follow_promptfoo() {
        assert_eq!(
            split_comma_list(" a , b,,c ,").unwrap(),
            strings(&["a", "b", "c"])
        );
        assert_eq!(
            split_comma_list(r#""a, b", c"#).unwrap(),
            strings(&["a, b", "c"])
        );
        assert_eq!(
            split_comma_list(r#""say \"hi\"", "x""y""#).unwrap(),
            strings(&[r#"say "hi""#, r#"x"y"#])
        );
        assert_eq!(split_comma_list("a b").unwrap(), strings(&["a b"]));
        assert!(split_comma_list(r#""open"#).is_err());
        let raw = json!({"type": "contains-all", "value": r#""1,000", dollars"#});
        assert_grade(raw.clone(), "1,000 dollars", true);
        assert_grade(raw, "1000 dollars", false);
    }

    #[test]
    fn empty_schema_string_means_no_schema() {
        assert_grade(json!({"type": "is-json", "value": ""}), "[1]", true);
        assert_grade(
            json!({"type": "contains-json", "value": " "}),
            "x {} y",
            true,
        );
        let error = parse_error(json!({"type": "json-schema", "value": ""}));
        assert!(error.contains("not a JSON schema"), "{error}");
    }

    #[test]
    fn schema_may_be_given_as_a_json_string() {
        let raw = json!({"type": "is-json", "value": person_schema().to_string()});
        assert_grade(raw.clone(), r#"{"name": "Ana", "age": 30}"#, true);
        assert_grade(raw, r#"{"name": 1, "age": 30}"#, false);
    }

    #[test]
    fn structured_rubrics_are_sent_as_json() {
        let assertion = parse(json!({"type": "llm-rubric", "value": {"tone": "polite"}}));
        let Evaluation::NeedsRubric { messages } = assertion.evaluate("x", &facts()) else {
            panic!("llm-rubric needs the grader");
        };
        assert!(messages[1].content.contains("\"tone\": \"polite\""));
    }

    #[test]
    fn exec_needs_its_argv_from_a_list_or_a_string() {
        let from_list = parse(json!({"type": "exec", "value": ["python3", "grade.py", "a b"]}));
        assert_eq!(
            from_list.evaluate("out", &facts()),
            Evaluation::NeedsExec {
                argv: strings(&["python3", "grade.py", "a b"])
            }
        );
        let from_string = parse(json!({"type": "exec", "value": "  ./check.sh  --strict "}));
        assert_eq!(
            from_string.evaluate("out", &facts()),
            Evaluation::NeedsExec {
                argv: strings(&["./check.sh", "--strict"])
            }
        );
    }
}
