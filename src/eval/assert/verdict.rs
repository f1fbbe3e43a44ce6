//! How outcomes are made: a pass/fail verdict, an outcome that measured nothing (which
//! negation and thresholds leave failed), score clamping, and reading the
//! `{pass, score?, reason?}` object an exec grader or a grading model answers with.

use serde_json::{Map, Value};

use super::text::describe;
use super::Outcome;

/// Marks an outcome that measured nothing; `finish` and negation leave it failed.
const CANNOT_GRADE: &str = "cannot grade: ";

pub(super) fn verdict(pass: bool, reason: String) -> Outcome {
    Outcome {
        pass,
        score: if pass { 1.0 } else { 0.0 },
        reason,
        ungraded: false,
    }
}

pub(super) fn cannot_grade(why: impl std::fmt::Display) -> Outcome {
    Outcome {
        pass: false,
        score: 0.0,
        reason: format!("{CANNOT_GRADE}{why}"),
        ungraded: true,
    }
}

pub(super) fn is_ungraded(outcome: &Outcome) -> bool {
    outcome.ungraded
}

/// Reads `{pass, score?, reason?}`: `score` defaults from `pass` and is clamped to 0..=1.
pub(super) fn verdict_from_object(
    fields: &Map<String, Value>,
    no_reason: &str,
) -> Result<Outcome, String> {
    let pass = match fields.get("pass") {
        Some(Value::Bool(pass)) => *pass,
        Some(other) => {
            return Err(format!(
                "\"pass\" is {}, not true or false",
                describe(other)
            ))
        }
        None => return Err("it has no \"pass\"".to_string()),
    };
    let score = fields
        .get("score")
        .and_then(Value::as_f64)
        .map_or(if pass { 1.0 } else { 0.0 }, clamp_score);
    let reason = match fields.get("reason") {
        Some(Value::String(reason)) if !reason.trim().is_empty() => reason.trim().to_string(),
        _ => no_reason.to_string(),
    };
    Ok(Outcome {
        pass,
        score,
        reason,
        ungraded: false,
    })
}

pub(super) fn clamp_score(score: f64) -> f64 {
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::graded;
    use super::*;

    #[test]
    fn ungraded_is_a_flag_not_a_wording() {
        // A grader whose honest reason happens to start like an ungraded one is a verdict.
        let failing = graded(false, 0.0, "cannot grade: the essay is off-topic");
        assert!(!is_ungraded(&failing));
        assert!(is_ungraded(&cannot_grade("no answer")));
    }
}
