//! Deterministic grading of one output against a compiled check, before negation: equality
//! (as text or as JSON), the contains family, prefixes, regexes, JSON validity and schemas
//! (also for JSON embedded in prose), word counts, Levenshtein distance, and the call's
//! latency and cost. Each outcome's reason says what was found.

use std::borrow::Cow;

use regex::Regex;
use serde_json::Value;

use super::text::{embedded_json, excerpt, num, quoted, quoted_difference, quoted_list, usd};
use super::verdict::{cannot_grade, verdict};
use super::{Check, Facts, Outcome, WordRange};

/// Grades a deterministic check, before negation.
pub(super) fn grade(check: &Check, output: &str, facts: &Facts) -> Outcome {
    match check {
        Check::EqualsText(expected) => grade_equals_text(output, expected),
        Check::EqualsJson(expected) => grade_equals_json(output, expected),
        Check::Contains {
            needle,
            ignore_case,
        } => grade_contains(output, needle, *ignore_case),
        Check::StartsWith(prefix) => grade_starts_with(output, prefix),
        Check::ContainsAny {
            needles,
            ignore_case,
        } => grade_contains_any(output, needles, *ignore_case),
        Check::ContainsAll {
            needles,
            ignore_case,
        } => grade_contains_all(output, needles, *ignore_case),
        Check::Matches(pattern) => grade_regex(output, pattern),
        Check::IsJson(schema) => grade_is_json(output, schema.as_deref()),
        Check::ContainsJson(schema) => grade_contains_json(output, schema.as_deref()),
        Check::JsonSchema(schema) => grade_is_json(output, Some(schema)),
        Check::WordCount(range) => grade_word_count(output, *range),
        Check::Levenshtein {
            target,
            max_distance,
        } => grade_levenshtein(output, target, *max_distance),
        Check::Latency { max_ms } => grade_latency(facts.latency_ms, *max_ms),
        Check::Cost { max_usd } => grade_cost(facts.cost_usd, *max_usd),
        Check::Rubric { .. } | Check::Exec { .. } => {
            cannot_grade("this assertion needs an asynchronous grader")
        }
    }
}

fn grade_equals_text(output: &str, expected: &str) -> Outcome {
    if output == expected {
        verdict(true, format!("output equals {}", quoted(expected)))
    } else {
        let (output, expected) = quoted_difference(output, expected);
        verdict(false, format!("output {output} does not equal {expected}"))
    }
}

fn grade_equals_json(output: &str, expected: &Value) -> Outcome {
    let shown = excerpt(&expected.to_string(), 80);
    match serde_json::from_str::<Value>(output) {
        Err(error) => verdict(
            false,
            format!("output is not JSON ({error}), expected {shown}"),
        ),
        Ok(actual) if json_equal(&actual, expected) => {
            verdict(true, format!("output JSON equals {shown}"))
        }
        Ok(actual) => verdict(
            false,
            format!(
                "output JSON {} does not equal {shown}",
                excerpt(&actual.to_string(), 80)
            ),
        ),
    }
}

/// Deep equality where numbers compare by value, so `42` equals `42.0` as in JavaScript.
fn json_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, x)| b.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => left == right,
    }
}

/// The text as compared: lowercased for the case-insensitive types.
fn fold(text: &str, ignore_case: bool) -> Cow<'_, str> {
    if ignore_case {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether the (already folded) haystack contains the needle, folded the same way.
fn includes(haystack: &str, needle: &str, ignore_case: bool) -> bool {
    haystack.contains(fold(needle, ignore_case).as_ref())
}

fn grade_contains(output: &str, needle: &str, ignore_case: bool) -> Outcome {
    if includes(&fold(output, ignore_case), needle, ignore_case) {
        verdict(true, format!("output contains {}", quoted(needle)))
    } else {
        verdict(false, format!("output does not contain {}", quoted(needle)))
    }
}

fn grade_starts_with(output: &str, prefix: &str) -> Outcome {
    if output.starts_with(prefix) {
        verdict(true, format!("output starts with {}", quoted(prefix)))
    } else {
        verdict(
            false,
            format!(
                "output {} does not start with {}",
                quoted(output),
                quoted(prefix)
            ),
        )
    }
}

fn grade_contains_any(output: &str, needles: &[String], ignore_case: bool) -> Outcome {
    let haystack = fold(output, ignore_case);
    match needles
        .iter()
        .find(|needle| includes(&haystack, needle, ignore_case))
    {
        Some(found) => verdict(true, format!("output contains {}", quoted(found))),
        None => verdict(
            false,
            format!("output contains none of {}", quoted_list(needles)),
        ),
    }
}

fn grade_contains_all(output: &str, needles: &[String], ignore_case: bool) -> Outcome {
    let haystack = fold(output, ignore_case);
    let missing: Vec<String> = needles
        .iter()
        .filter(|needle| !includes(&haystack, needle, ignore_case))
        .cloned()
        .collect();
    if missing.is_empty() {
        verdict(
            true,
            format!("output contains all of {}", quoted_list(needles)),
        )
    } else {
        verdict(
            false,
            format!("output is missing {}", quoted_list(&missing)),
        )
    }
}

fn grade_regex(output: &str, pattern: &Regex) -> Outcome {
    if pattern.is_match(output) {
        verdict(true, format!("output matches /{pattern}/"))
    } else {
        verdict(false, format!("output does not match /{pattern}/"))
    }
}

fn grade_is_json(output: &str, schema: Option<&jsonschema::Validator>) -> Outcome {
    let parsed = match serde_json::from_str::<Value>(output) {
        Ok(parsed) => parsed,
        Err(error) => return verdict(false, format!("output is not valid JSON: {error}")),
    };
    let Some(schema) = schema else {
        return verdict(true, "output is valid JSON".to_string());
    };
    match schema_violation(schema, &parsed) {
        None => verdict(true, "output is JSON matching the schema".to_string()),
        Some(violation) => verdict(
            false,
            format!("output JSON does not match the schema: {violation}"),
        ),
    }
}

fn grade_contains_json(output: &str, schema: Option<&jsonschema::Validator>) -> Outcome {
    let found = embedded_json(output);
    let Some(first) = found.first() else {
        return verdict(false, "output contains no JSON object or array".to_string());
    };
    let Some(schema) = schema else {
        return verdict(true, "output contains JSON".to_string());
    };
    if found.iter().any(|value| schema.is_valid(value)) {
        return verdict(true, "output contains JSON matching the schema".to_string());
    }
    let violation = schema_violation(schema, first).unwrap_or_default();
    verdict(
        false,
        format!("no JSON in the output matches the schema: {violation}"),
    )
}

/// The first way `value` breaks `schema`, located by JSON pointer.
fn schema_violation(schema: &jsonschema::Validator, value: &Value) -> Option<String> {
    let error = schema.validate(value).err()?;
    let location = error.instance_path().as_str().to_string();
    Some(if location.is_empty() {
        error.to_string()
    } else {
        format!("at {location}: {error}")
    })
}

fn grade_word_count(output: &str, range: WordRange) -> Outcome {
    let count = output.split_whitespace().count() as u64;
    let within =
        range.min.is_none_or(|min| count >= min) && range.max.is_none_or(|max| count <= max);
    let expected = match (range.min, range.max) {
        (Some(min), Some(max)) if min == max => format!("exactly {min}"),
        (Some(min), Some(max)) => format!("{min} to {max}"),
        (Some(min), None) => format!("at least {min}"),
        (None, Some(max)) => format!("at most {max}"),
        (None, None) => "any number of".to_string(),
    };
    verdict(
        within,
        format!("output has {count} words, expected {expected}"),
    )
}

fn grade_levenshtein(output: &str, target: &str, max_distance: f64) -> Outcome {
    let distance = strsim::levenshtein(output, target);
    verdict(
        distance as f64 <= max_distance,
        format!(
            "edit distance to {} is {distance}, expected at most {}",
            quoted(target),
            num(max_distance)
        ),
    )
}

fn grade_latency(latency_ms: u64, max_ms: f64) -> Outcome {
    verdict(
        latency_ms as f64 <= max_ms,
        format!("expected at most {} ms, took {latency_ms} ms", num(max_ms)),
    )
}

fn grade_cost(cost_usd: Option<f64>, max_usd: f64) -> Outcome {
    match cost_usd {
        None => cannot_grade(
            "the cost is unknown because the price of the model is unknown \
             (add it to the price table)",
        ),
        Some(cost) => verdict(
            cost <= max_usd,
            format!("expected at most {}, cost {}", usd(max_usd), usd(cost)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_grade, grade, grade_with, person_schema};
    use super::super::Facts;
    use super::grade_equals_text;
    use serde_json::json;

    // --- equals -------------------------------------------------------------------------

    #[test]
    fn equals_string_is_exact() {
        assert_grade(json!({"type": "equals", "value": "Paris"}), "Paris", true);
        let outcome = assert_grade(json!({"type": "equals", "value": "Paris"}), "Paris.", false);
        assert_eq!(outcome.reason, "output \"Paris.\" does not equal \"Paris\"");
        // A difference in whitespace shows, escaped, instead of two identical quotes.
        let newline = grade_equals_text("ECHO: ITEM 1\n", "ECHO: ITEM 1");
        assert_eq!(
            newline.reason,
            "output \"ECHO: ITEM 1\\n\" does not equal \"ECHO: ITEM 1\""
        );
        let long = "x".repeat(100);
        let past_the_cut = grade_equals_text(&format!("{long}a "), &format!("{long}a"));
        let tail = "x".repeat(29);
        assert_eq!(
            past_the_cut.reason,
            format!("output …\"{tail}a \" does not equal …\"{tail}a\"")
        );
        assert_grade(json!({"type": "equals", "value": "Paris"}), "paris", false);
        assert_grade(json!({"type": "equals", "value": "Paris"}), " Paris", false);
    }

    #[test]
    fn equals_structured_value_compares_parsed_json() {
        let raw = json!({"type": "equals", "value": {"a": 1, "b": [true, null]}});
        assert_grade(raw.clone(), r#"{"b": [true, null], "a": 1}"#, true);
        assert_grade(raw.clone(), r#"{"a": 1.0, "b": [true, null]}"#, true);
        let outcome = assert_grade(raw.clone(), r#"{"a": 2, "b": [true, null]}"#, false);
        assert_eq!(
            outcome.reason,
            r#"output JSON {"a":2,"b":[true,null]} does not equal {"a":1,"b":[true,null]}"#
        );
        assert_grade(raw.clone(), r#"{"a": 1, "b": [true, null], "c": 0}"#, false);
        let outcome = assert_grade(raw, "not json", false);
        assert!(
            outcome.reason.starts_with("output is not JSON"),
            "{}",
            outcome.reason
        );
    }

    #[test]
    fn equals_number_and_bool_parse_the_output() {
        assert_grade(json!({"type": "equals", "value": 42}), "42", true);
        assert_grade(json!({"type": "equals", "value": 42}), " 42\n", true);
        assert_grade(json!({"type": "equals", "value": 42}), "42.0", true);
        assert_grade(json!({"type": "equals", "value": 42}), "43", false);
        assert_grade(json!({"type": "equals", "value": 42}), "\"42\"", false);
        assert_grade(json!({"type": "equals", "value": true}), "true", true);
        assert_grade(json!({"type": "equals", "value": [1, 2]}), "[2, 1]", false);
    }

    // --- contains family ----------------------------------------------------------------

    #[test]
    fn contains_is_case_sensitive() {
        let outcome = assert_grade(
            json!({"type": "contains", "value": "refund"}),
            "We issued a refund.",
            true,
        );
        assert_eq!(outcome.reason, "output contains \"refund\"");
        let outcome = assert_grade(
            json!({"type": "contains", "value": "refund"}),
            "We issued a Refund.",
            false,
        );
        assert_eq!(outcome.reason, "output does not contain \"refund\"");
    }

    #[test]
    fn not_contains_reason_says_not() {
        let outcome = grade(
            json!({"type": "not-contains", "value": "sorry"}),
            "I'm sorry",
        );
        assert!(!outcome.pass);
        assert_eq!(outcome.reason, "not: output contains \"sorry\"");
    }

    #[test]
    fn contains_stringifies_numbers() {
        assert_grade(
            json!({"type": "contains", "value": 42}),
            "the answer is 42",
            true,
        );
        assert_grade(
            json!({"type": "contains", "value": 4.5}),
            "rated 4.5 stars",
            true,
        );
        assert_grade(json!({"type": "contains", "value": 42}), "forty-two", false);
    }

    #[test]
    fn icontains_ignores_case_including_unicode() {
        assert_grade(
            json!({"type": "icontains", "value": "REFUND"}),
            "a refund",
            true,
        );
        assert_grade(
            json!({"type": "icontains", "value": "straße"}),
            "STRASSE or STRAßE",
            true,
        );
        assert_grade(
            json!({"type": "icontains", "value": "ÉCOLE"}),
            "l'école",
            true,
        );
        assert_grade(
            json!({"type": "icontains", "value": "refund"}),
            "a rebate",
            false,
        );
    }

    #[test]
    fn starts_with_checks_the_prefix() {
        assert_grade(
            json!({"type": "starts-with", "value": "Dear"}),
            "Dear Ana,",
            true,
        );
        assert_grade(
            json!({"type": "starts-with", "value": "Dear"}),
            " Dear Ana,",
            false,
        );
        assert_grade(json!({"type": "starts-with", "value": 1}), "1. First", true);
        let outcome = assert_grade(json!({"type": "starts-with", "value": "Dear"}), "Hi", false);
        assert_eq!(outcome.reason, "output \"Hi\" does not start with \"Dear\"");
    }

    #[test]
    fn contains_any_takes_a_list_or_a_comma_separated_string() {
        for value in [json!(["refund", "credit"]), json!("refund, credit")] {
            let raw = json!({"type": "contains-any", "value": value});
            let outcome = assert_grade(raw.clone(), "a store credit", true);
            assert_eq!(outcome.reason, "output contains \"credit\"");
            let outcome = assert_grade(raw, "nothing", false);
            assert_eq!(
                outcome.reason,
                "output contains none of \"refund\", \"credit\""
            );
        }
    }

    #[test]
    fn contains_all_names_what_is_missing() {
        let raw = json!({"type": "contains-all", "value": ["order", "refund", "days"]});
        assert_grade(raw.clone(), "order refund in 5 days", true);
        let outcome = assert_grade(raw, "your order", false);
        assert_eq!(outcome.reason, "output is missing \"refund\", \"days\"");
    }

    #[test]
    fn icontains_any_and_all_ignore_case() {
        let any = json!({"type": "icontains-any", "value": "REFUND,Credit"});
        assert_grade(any.clone(), "store CREDIT", true);
        assert_grade(any, "nothing", false);
        let all = json!({"type": "icontains-all", "value": ["ORDER", "refund"]});
        assert_grade(all.clone(), "Order REFUND", true);
        assert_grade(all, "Order", false);
        let case_sensitive = json!({"type": "contains-all", "value": ["ORDER"]});
        assert_grade(case_sensitive, "order", false);
    }

    #[test]
    fn long_lists_are_abbreviated_in_reasons() {
        let needles: Vec<String> = (1..=8).map(|n| format!("w{n}")).collect();
        let outcome = grade(json!({"type": "contains-any", "value": needles}), "none");
        assert!(
            outcome.reason.ends_with("\"w5\", and 3 more"),
            "{}",
            outcome.reason
        );
    }

    // --- regex --------------------------------------------------------------------------

    #[test]
    fn regex_matches_anywhere_unless_anchored() {
        let raw = json!({"type": "regex", "value": r"\b\d{3}-\d{4}\b"});
        let outcome = assert_grade(raw.clone(), "call 555-1234 now", true);
        assert_eq!(outcome.reason, r"output matches /\b\d{3}-\d{4}\b/");
        assert_grade(raw, "call 5551234 now", false);
        assert_grade(json!({"type": "regex", "value": "^Yes$"}), "Yes", true);
        assert_grade(json!({"type": "regex", "value": "^Yes$"}), "Yes!", false);
        assert_grade(
            json!({"type": "regex", "value": "(?i)^yes"}),
            "YES sir",
            true,
        );
    }

    // --- JSON ---------------------------------------------------------------------------

    #[test]
    fn is_json_without_schema() {
        assert_grade(json!({"type": "is-json"}), r#" {"a": [1, 2]} "#, true);
        assert_grade(json!({"type": "is-json"}), "[1, 2]", true);
        assert_grade(json!({"type": "is-json"}), "\"text\"", true);
        let outcome = assert_grade(json!({"type": "is-json"}), "Sure! {\"a\": 1}", false);
        assert!(
            outcome.reason.starts_with("output is not valid JSON"),
            "{}",
            outcome.reason
        );
        assert_grade(json!({"type": "is-json"}), "```json\n{}\n```", false);
    }

    #[test]
    fn is_json_with_schema() {
        let raw = json!({"type": "is-json", "value": person_schema()});
        assert_grade(raw.clone(), r#"{"name": "Ana", "age": 30}"#, true);
        let outcome = assert_grade(raw.clone(), r#"{"name": "Ana", "age": -1}"#, false);
        assert!(outcome.reason.contains("at /age"), "{}", outcome.reason);
        assert_grade(raw.clone(), r#"{"name": "Ana"}"#, false);
        assert_grade(raw, "nope", false);
    }

    #[test]
    fn json_schema_requires_parseable_conforming_output() {
        let raw = json!({"type": "json-schema", "value": person_schema()});
        assert_grade(raw.clone(), r#"{"name": "Ana", "age": 30, "x": 1}"#, true);
        let outcome = assert_grade(raw.clone(), r#"{"age": 30}"#, false);
        assert!(
            outcome.reason.contains("does not match the schema"),
            "{}",
            outcome.reason
        );
        assert!(outcome.reason.contains("name"), "{}", outcome.reason);
        assert_grade(raw, r#"Here: {"name": "Ana", "age": 30}"#, false);
    }

    #[test]
    fn contains_json_finds_json_in_prose_and_fences() {
        let raw = json!({"type": "contains-json"});
        assert_grade(
            raw.clone(),
            r#"Here you go: {"ok": true} Hope it helps."#,
            true,
        );
        assert_grade(raw.clone(), "```json\n{\n  \"items\": [1, 2]\n}\n```", true);
        assert_grade(raw.clone(), "The list: [\"a\", \"b\"].", true);
        assert_grade(raw.clone(), r#"{"ok": true}"#, true);
        let outcome = assert_grade(raw.clone(), "No JSON {here} or {\"broken\": }", false);
        assert_eq!(outcome.reason, "output contains no JSON object or array");
        assert_grade(raw, "plain text", false);
    }

    #[test]
    fn contains_json_with_schema_accepts_any_matching_value() {
        let raw = json!({"type": "contains-json", "value": person_schema()});
        let output = r#"Draft: {"name": "Ana"} Final: {"name": "Ana", "age": 30}"#;
        assert_grade(raw.clone(), output, true);
        let outcome = assert_grade(raw.clone(), r#"Only {"name": "Ana"} here"#, false);
        assert!(
            outcome
                .reason
                .starts_with("no JSON in the output matches the schema"),
            "{}",
            outcome.reason
        );
        assert_grade(raw, "no json", false);
    }

    // --- word count ---------------------------------------------------------------------

    #[test]
    fn word_count_exact() {
        let raw = json!({"type": "word-count", "value": 3});
        let outcome = assert_grade(raw.clone(), "  one two\n\tthree ", true);
        assert_eq!(outcome.reason, "output has 3 words, expected exactly 3");
        assert_grade(raw.clone(), "one two", false);
        assert_grade(raw, "one two three four", false);
        assert_grade(json!({"type": "word-count", "value": "2"}), "a b", true);
        assert_grade(json!({"type": "word-count", "value": 0}), "   ", true);
    }

    #[test]
    fn word_count_ranges() {
        let between = json!({"type": "word-count", "value": {"min": 2, "max": 3}});
        assert_grade(between.clone(), "a", false);
        assert_grade(between.clone(), "a b", true);
        assert_grade(between.clone(), "a b c", true);
        let outcome = assert_grade(between, "a b c d", false);
        assert_eq!(outcome.reason, "output has 4 words, expected 2 to 3");
        let at_least = json!({"type": "word-count", "value": {"min": 2}});
        assert_grade(at_least.clone(), "a", false);
        assert_grade(at_least, "a b c d e", true);
        let at_most = json!({"type": "word-count", "value": {"max": 2}});
        let outcome = assert_grade(at_most.clone(), "a b c", false);
        assert_eq!(outcome.reason, "output has 3 words, expected at most 2");
        assert_grade(at_most, "", true);
    }

    // --- levenshtein --------------------------------------------------------------------

    #[test]
    fn edit_distances() {
        // Counted in characters, not bytes: "é" and "語" are one edit each.
        assert_eq!(strsim::levenshtein("", ""), 0);
        assert_eq!(strsim::levenshtein("abc", ""), 3);
        assert_eq!(strsim::levenshtein("", "abc"), 3);
        assert_eq!(strsim::levenshtein("kitten", "sitting"), 3);
        assert_eq!(strsim::levenshtein("flaw", "lawn"), 2);
        assert_eq!(strsim::levenshtein("same", "same"), 0);
        assert_eq!(strsim::levenshtein("café", "cafe"), 1);
        assert_eq!(strsim::levenshtein("日本語", "日本"), 1);
        assert_eq!(strsim::levenshtein("abc", "cba"), 2);
    }

    #[test]
    fn levenshtein_default_threshold_is_five() {
        let raw = json!({"type": "levenshtein", "value": "hello world"});
        assert_grade(raw.clone(), "hello world", true);
        let outcome = assert_grade(raw.clone(), "hallo wrld!!", true);
        assert_eq!(
            outcome.reason,
            "edit distance to \"hello world\" is 4, expected at most 5"
        );
        assert_grade(raw.clone(), "hello world12345", true);
        assert_grade(raw.clone(), "hello world123456", false);
        assert_grade(raw, "hello there world", false);
    }

    #[test]
    fn levenshtein_threshold_is_the_maximum_distance() {
        let strict = json!({"type": "levenshtein", "value": "kitten", "threshold": 2});
        assert_grade(strict.clone(), "sitten", true);
        assert_grade(strict, "sitting", false);
        let exact = json!({"type": "levenshtein", "value": "kitten", "threshold": 0});
        assert_grade(exact.clone(), "kitten", true);
        assert_grade(exact, "kitte", false);
    }

    #[test]
    fn levenshtein_counts_characters_not_bytes() {
        let raw = json!({"type": "levenshtein", "value": "日本語", "threshold": 1});
        let outcome = assert_grade(raw, "日本", true);
        assert_eq!(
            outcome.reason,
            "edit distance to \"日本語\" is 1, expected at most 1"
        );
    }

    // --- latency and cost ---------------------------------------------------------------

    #[test]
    fn latency_compares_with_the_threshold_in_ms() {
        let raw = json!({"type": "latency", "threshold": 200});
        let fast = Facts {
            latency_ms: 200,
            cost_usd: None,
        };
        assert!(grade_with(raw.clone(), "", &fast).pass);
        let slow = Facts {
            latency_ms: 350,
            cost_usd: None,
        };
        let outcome = grade_with(raw, "", &slow);
        assert!(!outcome.pass);
        assert_eq!(outcome.reason, "expected at most 200 ms, took 350 ms");
        let negated = grade_with(json!({"type": "not-latency", "threshold": 200}), "", &slow);
        assert!(negated.pass);
        assert_eq!(negated.reason, "not: expected at most 200 ms, took 350 ms");
    }

    #[test]
    fn cost_compares_with_the_threshold_in_usd() {
        let raw = json!({"type": "cost", "threshold": 0.01});
        let cheap = Facts {
            latency_ms: 0,
            cost_usd: Some(0.0015),
        };
        let outcome = grade_with(raw.clone(), "", &cheap);
        assert!(outcome.pass);
        assert_eq!(outcome.reason, "expected at most $0.01, cost $0.0015");
        let dear = Facts {
            latency_ms: 0,
            cost_usd: Some(0.02),
        };
        assert!(!grade_with(raw, "", &dear).pass);
        assert!(grade_with(json!({"type": "not-cost", "threshold": 0.01}), "", &dear).pass);
        assert!(!grade_with(json!({"type": "not-cost", "threshold": 0.01}), "", &cheap).pass);
    }

    #[test]
    fn unknown_cost_fails_even_when_negated() {
        let unknown = Facts {
            latency_ms: 0,
            cost_usd: None,
        };
        for type_name in ["cost", "not-cost"] {
            let outcome = grade_with(json!({"type": type_name, "threshold": 1}), "", &unknown);
            assert!(!outcome.pass, "{type_name}");
            assert_eq!(outcome.score, 0.0);
            assert!(
                outcome.reason.contains("price of the model is unknown"),
                "{}",
                outcome.reason
            );
        }
    }
}
