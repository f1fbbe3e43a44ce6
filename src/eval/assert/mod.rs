//! Assertions, the checks a case puts on a model's output: the public types and entry
//! points. [`Assertion::parse`] reads one entry of a case's `assert` list (promptfoo's type
//! names, each negatable with `not-`) and compiles its regex or JSON schema up front, so a bad
//! one is reported before any model call; [`Assertion::evaluate`] grades the deterministic
//! checks at once, while `exec` and `llm-rubric` say what asynchronous work they need, which
//! [`run_exec_grader`], [`rubric_messages`] and [`parse_rubric_reply`] do and
//! [`Assertion::finish`] turns into a final outcome; [`combine`] folds a case's outcomes. An
//! outcome that could not be measured at all (unknown price, a grader that would not start,
//! timed out or answered nonsense) fails whether or not the assertion is negated: the gate
//! fails closed, so `not-exec` must not pass because its grader is missing.

use regex::Regex;
use serde_json::Value;

use crate::eval::providers::ChatMessage;

mod exec;
mod grade;
mod parse;
mod rubric;
mod strictness;
mod text;
mod verdict;

pub use exec::run_exec_grader;
pub use rubric::{parse_rubric_reply, rubric_messages};

use text::num;
use verdict::{clamp_score, is_ungraded};

/// An assertion type, as named by promptfoo (without the `not-` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Equals,
    Contains,
    Icontains,
    ContainsAny,
    ContainsAll,
    IcontainsAny,
    IcontainsAll,
    Regex,
    StartsWith,
    IsJson,
    ContainsJson,
    JsonSchema,
    WordCount,
    Levenshtein,
    Latency,
    Cost,
    LlmRubric,
    Exec,
}

/// One parsed entry of a case's `assert` list. Build it with [`Assertion::parse`]; the
/// public fields are what was written, the private state is what was compiled from it.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub kind: Kind,
    pub negate: bool,
    /// The `value` as written (`null` counts as absent).
    pub value: Option<Value>,
    /// Share of the case score; 0 makes the assertion informational. Default 1.0.
    pub weight: f64,
    pub threshold: Option<f64>,
    pub metric: Option<String>,
    check: Check,
}

/// What is known about the call besides its text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Facts {
    pub latency_ms: u64,
    /// `None` when the model's price is unknown.
    pub cost_usd: Option<f64>,
}

/// The grade of one output against one assertion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub pass: bool,
    /// 0.0..=1.0.
    pub score: f64,
    pub reason: String,
    /// Nothing was measured (a grader that did not answer, an unknown price): failed, and
    /// neither negation nor a threshold turns it into a pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ungraded: bool,
}

/// What [`Assertion::evaluate`] could do synchronously.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// Graded; negation and threshold already applied.
    Done(Outcome),
    /// Run [`run_exec_grader`] with this argv, then pass its outcome to [`Assertion::finish`].
    NeedsExec { argv: Vec<String> },
    /// Send these messages to the grading model, read the reply with
    /// [`parse_rubric_reply`], then pass the outcome to [`Assertion::finish`].
    NeedsRubric { messages: Vec<ChatMessage> },
}

/// The compiled form of an assertion: everything evaluation needs, checked at parse time.
#[derive(Debug, Clone)]
enum Check {
    EqualsText(String),
    EqualsJson(Value),
    Contains {
        needle: String,
        ignore_case: bool,
    },
    StartsWith(String),
    ContainsAny {
        needles: Vec<String>,
        ignore_case: bool,
    },
    ContainsAll {
        needles: Vec<String>,
        ignore_case: bool,
    },
    Matches(Regex),
    IsJson(Option<Box<jsonschema::Validator>>),
    ContainsJson(Option<Box<jsonschema::Validator>>),
    JsonSchema(Box<jsonschema::Validator>),
    WordCount(WordRange),
    Levenshtein {
        target: String,
        max_distance: f64,
    },
    Latency {
        max_ms: f64,
    },
    Cost {
        max_usd: f64,
    },
    Rubric {
        rubric: String,
        min_score: Option<f64>,
    },
    Exec {
        argv: Vec<String>,
        min_score: Option<f64>,
    },
}

/// Inclusive word-count bounds; an exact count has `min == max`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WordRange {
    min: Option<u64>,
    max: Option<u64>,
}

const NEGATION_PREFIX: &str = "not-";

impl Kind {
    const ALL: [Kind; 18] = [
        Kind::Equals,
        Kind::Contains,
        Kind::Icontains,
        Kind::ContainsAny,
        Kind::ContainsAll,
        Kind::IcontainsAny,
        Kind::IcontainsAll,
        Kind::Regex,
        Kind::StartsWith,
        Kind::IsJson,
        Kind::ContainsJson,
        Kind::JsonSchema,
        Kind::WordCount,
        Kind::Levenshtein,
        Kind::Latency,
        Kind::Cost,
        Kind::LlmRubric,
        Kind::Exec,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Equals => "equals",
            Kind::Contains => "contains",
            Kind::Icontains => "icontains",
            Kind::ContainsAny => "contains-any",
            Kind::ContainsAll => "contains-all",
            Kind::IcontainsAny => "icontains-any",
            Kind::IcontainsAll => "icontains-all",
            Kind::Regex => "regex",
            Kind::StartsWith => "starts-with",
            Kind::IsJson => "is-json",
            Kind::ContainsJson => "contains-json",
            Kind::JsonSchema => "json-schema",
            Kind::WordCount => "word-count",
            Kind::Levenshtein => "levenshtein",
            Kind::Latency => "latency",
            Kind::Cost => "cost",
            Kind::LlmRubric => "llm-rubric",
            Kind::Exec => "exec",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl Assertion {
    /// Parses one entry of a case's `assert` list (a JSON object: `type`, `value`, optional
    /// `weight`, `threshold`, `metric`; unknown keys are an error). Compiles regexes and JSON
    /// schemas here so bad ones are found before any model call. The error names the type
    /// and the problem; for an unknown type it lists the valid ones.
    pub fn parse(raw: &Value) -> Result<Assertion, String> {
        parse::assertion(raw)
    }

    /// The type as written, e.g. `"not-icontains"`.
    pub fn type_name(&self) -> String {
        let prefix = if self.negate { NEGATION_PREFIX } else { "" };
        format!("{prefix}{}", self.kind.name())
    }

    /// Grades synchronously when possible (negation and threshold already applied), or says
    /// what async work is needed (exec grader, llm-rubric).
    pub fn evaluate(&self, output: &str, facts: &Facts) -> Evaluation {
        match &self.check {
            Check::Rubric { rubric, .. } => Evaluation::NeedsRubric {
                messages: rubric_messages(rubric, output),
            },
            Check::Exec { argv, .. } => Evaluation::NeedsExec { argv: argv.clone() },
            check => Evaluation::Done(self.negated(grade::grade(check, output, facts))),
        }
    }

    /// Applies `threshold` (for scored results) and negation to a raw outcome from the exec
    /// grader or the rubric grader. An outcome that measured nothing stays failed.
    pub fn finish(&self, raw: Outcome) -> Outcome {
        if is_ungraded(&raw) {
            return Outcome { score: 0.0, ..raw };
        }
        let score = clamp_score(raw.score);
        let judged = match self.min_score() {
            Some(min) => Outcome {
                pass: score >= min,
                score,
                reason: format!(
                    "score {} {} threshold {}: {}",
                    num(score),
                    if score >= min { ">=" } else { "<" },
                    num(min),
                    raw.reason
                ),
                ungraded: false,
            },
            None => Outcome { score, ..raw },
        };
        self.negated(judged)
    }

    fn min_score(&self) -> Option<f64> {
        match &self.check {
            Check::Rubric { min_score, .. } | Check::Exec { min_score, .. } => *min_score,
            _ => None,
        }
    }

    fn negated(&self, raw: Outcome) -> Outcome {
        if !self.negate || is_ungraded(&raw) {
            return raw;
        }
        Outcome {
            pass: !raw.pass,
            score: 1.0 - raw.score,
            reason: format!("not: {}", raw.reason),
            ungraded: false,
        }
    }
}

/// A case's result from its assertions' outcomes: passes iff every assertion with weight > 0
/// passes; the score is the weighted mean of scores (1.0 when there are no assertions or
/// their total weight is 0).
pub fn combine(results: &[(&Assertion, &Outcome)]) -> (bool, f64) {
    let counted = || {
        results
            .iter()
            .filter(|(assertion, _)| assertion.weight > 0.0)
    };
    let pass = counted().all(|(_, outcome)| outcome.pass);
    let total: f64 = counted().map(|(assertion, _)| assertion.weight).sum();
    if total <= 0.0 {
        return (pass, 1.0);
    }
    let weighted: f64 = counted()
        .map(|(assertion, outcome)| assertion.weight * outcome.score)
        .sum();
    (pass, weighted / total)
}

#[cfg(test)]
mod tests {
    use super::verdict::cannot_grade;
    use super::*;
    use serde_json::json;

    pub(super) fn parse(raw: Value) -> Assertion {
        match Assertion::parse(&raw) {
            Ok(assertion) => assertion,
            Err(error) => panic!("{raw} should parse: {error}"),
        }
    }

    pub(super) fn parse_error(raw: Value) -> String {
        match Assertion::parse(&raw) {
            Ok(assertion) => panic!("{raw} should not parse, got {assertion:?}"),
            Err(error) => error,
        }
    }

    pub(super) fn facts() -> Facts {
        Facts {
            latency_ms: 150,
            cost_usd: Some(0.002),
        }
    }

    pub(super) fn grade_with(raw: Value, output: &str, facts: &Facts) -> Outcome {
        match parse(raw).evaluate(output, facts) {
            Evaluation::Done(outcome) => outcome,
            other => panic!("expected a synchronous grade, got {other:?}"),
        }
    }

    pub(super) fn grade(raw: Value, output: &str) -> Outcome {
        grade_with(raw, output, &facts())
    }

    /// Checks `type` against `output` and `not-type` against it, which must disagree.
    pub(super) fn assert_grade(raw: Value, output: &str, expected: bool) -> Outcome {
        let outcome = grade(raw.clone(), output);
        assert_eq!(outcome.pass, expected, "{raw} on {output:?}: {outcome:?}");
        assert_eq!(outcome.score, if expected { 1.0 } else { 0.0 });
        let mut negated = raw.clone();
        let type_name = format!("not-{}", raw["type"].as_str().unwrap());
        negated["type"] = json!(type_name);
        let inverse = grade(negated, output);
        assert_eq!(
            inverse.pass, !expected,
            "not-{raw} on {output:?}: {inverse:?}"
        );
        assert_eq!(inverse.score, 1.0 - outcome.score);
        assert_eq!(inverse.reason, format!("not: {}", outcome.reason));
        outcome
    }

    pub(super) fn graded(pass: bool, score: f64, reason: &str) -> Outcome {
        Outcome {
            pass,
            score,
            reason: reason.to_string(),
            ungraded: false,
        }
    }

    pub(super) fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    pub(super) fn person_schema() -> Value {
        json!({
            "type": "object",
            "required": ["name", "age"],
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}
        })
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn assertions_can_be_shared_across_tasks() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Assertion>();
        shareable::<Outcome>();
    }

    #[test]
    fn llm_rubric_needs_the_grader_with_the_rubric_and_output() {
        let assertion = parse(json!({"type": "llm-rubric", "value": "Is polite"}));
        let Evaluation::NeedsRubric { messages } = assertion.evaluate("Thanks!", &facts()) else {
            panic!("llm-rubric needs the grader");
        };
        assert_eq!(messages, rubric_messages("Is polite", "Thanks!"));
    }

    #[test]
    fn finish_without_threshold_keeps_the_graders_verdict() {
        let assertion = parse(json!({"type": "llm-rubric", "value": "r"}));
        let raw = graded(true, 0.4, "fine");
        assert_eq!(assertion.finish(raw.clone()), raw);
        let raw = graded(false, 0.9, "odd but allowed");
        assert_eq!(assertion.finish(raw.clone()), raw);
    }

    #[test]
    fn finish_with_threshold_judges_by_score() {
        let assertion = parse(json!({"type": "llm-rubric", "value": "r", "threshold": 0.7}));
        let passed = assertion.finish(graded(false, 0.75, "mostly"));
        assert!(passed.pass);
        assert_eq!(passed.score, 0.75);
        assert_eq!(passed.reason, "score 0.75 >= threshold 0.7: mostly");
        let failed = assertion.finish(graded(true, 0.5, "meh"));
        assert!(!failed.pass);
        assert_eq!(failed.reason, "score 0.5 < threshold 0.7: meh");
        let exec = parse(json!({"type": "exec", "value": "x", "threshold": 0.3}));
        assert!(exec.finish(graded(false, 0.3, "edge")).pass);
    }

    #[test]
    fn finish_negates_after_the_threshold() {
        let assertion = parse(json!({"type": "not-llm-rubric", "value": "is rude"}));
        let finished = assertion.finish(graded(false, 0.2, "polite"));
        assert_eq!(finished, graded(true, 0.8, "not: polite"));
        let with_threshold = parse(json!({"type": "not-exec", "value": "x", "threshold": 0.5}));
        let finished = with_threshold.finish(graded(true, 0.6, "ok"));
        assert!(!finished.pass);
        assert!((finished.score - 0.4).abs() < 1e-9);
        assert_eq!(finished.reason, "not: score 0.6 >= threshold 0.5: ok");
    }

    #[test]
    fn finish_clamps_scores() {
        let assertion = parse(json!({"type": "exec", "value": "x"}));
        assert_eq!(assertion.finish(graded(true, 7.0, "r")).score, 1.0);
        assert_eq!(assertion.finish(graded(false, -2.0, "r")).score, 0.0);
        assert_eq!(assertion.finish(graded(false, f64::NAN, "r")).score, 0.0);
    }

    #[test]
    fn finish_keeps_ungraded_outcomes_failed() {
        let ungraded = cannot_grade("grader \"x\" timed out");
        for raw in [
            json!({"type": "not-exec", "value": "x"}),
            json!({"type": "exec", "value": "x", "threshold": 0}),
            json!({"type": "not-llm-rubric", "value": "r", "threshold": 0.5}),
        ] {
            let finished = parse(raw.clone()).finish(ungraded.clone());
            assert_eq!(finished, ungraded, "{raw}");
        }
    }

    fn weighted(weight: f64) -> Assertion {
        parse(json!({"type": "contains", "value": "x", "weight": weight}))
    }

    #[test]
    fn combine_with_no_assertions_passes_with_full_score() {
        assert_eq!(combine(&[]), (true, 1.0));
    }

    #[test]
    fn combine_takes_the_weighted_mean() {
        let (heavy, light) = (weighted(3.0), weighted(1.0));
        let (good, bad) = (graded(true, 1.0, ""), graded(false, 0.0, ""));
        assert_eq!(combine(&[(&heavy, &good), (&light, &bad)]), (false, 0.75));
        assert_eq!(combine(&[(&heavy, &bad), (&light, &good)]), (false, 0.25));
        assert_eq!(combine(&[(&heavy, &good), (&light, &good)]), (true, 1.0));
        let partial = graded(true, 0.5, "");
        assert_eq!(
            combine(&[(&heavy, &partial), (&light, &good)]),
            (true, 0.625)
        );
    }

    #[test]
    fn combine_ignores_zero_weight_assertions() {
        let (counted, informational) = (weighted(1.0), weighted(0.0));
        let (good, bad) = (graded(true, 1.0, ""), graded(false, 0.0, ""));
        assert_eq!(
            combine(&[(&counted, &good), (&informational, &bad)]),
            (true, 1.0)
        );
        assert_eq!(combine(&[(&informational, &bad)]), (true, 1.0));
    }
}
