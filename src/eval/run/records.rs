//! What a run records: each trial's output or error with its graded assertions, tokens,
//! latency and cost; each finished case with its trials (what the sink receives); and the
//! compact summary of a case that stays in memory (status, first reason, a trimmed output).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Messages of a failed or errored trial never exceed this in summaries.
const REASON_CHARS: usize = 200;
/// Outputs kept in case summaries are cut at this many characters.
const OUTPUT_CHARS: usize = 4000;

/// One assertion's result in a trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionResult {
    #[serde(rename = "type")]
    pub kind: String,
    pub pass: bool,
    pub score: f64,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

/// One trial: the output (or the error), how it graded, and what it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialRecord {
    pub trial: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub pass: bool,
    pub score: f64,
    pub assertions: Vec<AssertionResult>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub cached: bool,
    /// The model the answer named (cached answers keep the one named when they were made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_reported: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Pass,
    Fail,
    /// Some trial could not be run or graded: the case is not counted as either.
    Error,
}

/// A finished case with all its trials, as handed to the sink.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseRecord {
    pub surface: String,
    pub id: String,
    pub status: CaseStatus,
    pub flaky: bool,
    pub passed_trials: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    pub trials: Vec<TrialRecord>,
}

/// What stays in memory per case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: String,
    pub status: CaseStatus,
    pub flaky: bool,
    pub passed_trials: u32,
    pub trials: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    /// The first failed assertion's reason, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An output that shows the case's status (kept only when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Per named metric, the case's per-trial scores (each the mean of the trial's
    /// assertions carrying it), so metric rules can be judged under trial noise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, MetricScores>,
}

/// One metric's scores on one case: their sum, the sum of their squares and how many
/// trials scored it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricScores {
    pub sum: f64,
    pub sum_sq: f64,
    pub trials: u32,
}

impl MetricScores {
    /// Both sets of trials together.
    pub fn add(&mut self, other: MetricScores) {
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.trials += other.trials;
    }

    /// Each metric's scores over `trials` (errored trials scored nothing).
    fn of(trials: &[TrialRecord]) -> BTreeMap<String, MetricScores> {
        let mut scores: BTreeMap<String, MetricScores> = BTreeMap::new();
        for trial in trials.iter().filter(|t| t.error.is_none()) {
            let mut per_trial: BTreeMap<&str, (f64, u32)> = BTreeMap::new();
            for assertion in &trial.assertions {
                if let Some(metric) = &assertion.metric {
                    let entry = per_trial.entry(metric).or_default();
                    entry.0 += assertion.score;
                    entry.1 += 1;
                }
            }
            for (metric, (sum, count)) in per_trial {
                let score = sum / f64::from(count);
                scores
                    .entry(metric.to_string())
                    .or_default()
                    .add(MetricScores {
                        sum: score,
                        sum_sq: score * score,
                        trials: 1,
                    });
            }
        }
        scores
    }
}

impl CaseSummary {
    /// The summary of a finished case; its output is kept only when `keep_output`.
    pub(super) fn of(record: &CaseRecord, keep_output: bool) -> Self {
        CaseSummary {
            id: record.id.clone(),
            status: record.status,
            flaky: record.flaky,
            passed_trials: record.passed_trials,
            trials: record.trials.len() as u32,
            difficulty: record.difficulty,
            reason: reason(record),
            output: keep_output.then(|| representative_output(record)).flatten(),
            metrics: MetricScores::of(&record.trials),
        }
    }
}

/// A trial that could not be run or graded.
pub(super) fn error_trial(trial: u32, message: String) -> TrialRecord {
    TrialRecord {
        trial,
        output: None,
        error: Some(message),
        pass: false,
        score: 0.0,
        assertions: Vec::new(),
        latency_ms: 0,
        input_tokens: None,
        output_tokens: None,
        cost_usd: None,
        cached: false,
        model_reported: None,
    }
}
/// The output of a trial that agrees with the case's status, trimmed.
fn representative_output(record: &CaseRecord) -> Option<String> {
    let wanted = record.status == CaseStatus::Pass;
    let trial = record
        .trials
        .iter()
        .find(|t| t.pass == wanted && t.output.is_some())
        .or_else(|| record.trials.iter().find(|t| t.output.is_some()))?;
    let text = trial.output.as_deref()?;
    Some(match text.char_indices().nth(OUTPUT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    })
}

/// The first reason a case did not pass.
fn reason(record: &CaseRecord) -> Option<String> {
    if record.status == CaseStatus::Pass {
        return None;
    }
    let text = record.trials.iter().find_map(|t| {
        t.error.clone().or_else(|| {
            t.assertions
                .iter()
                .find(|a| !a.pass)
                .map(|a| format!("{}: {}", a.kind, a.reason))
        })
    })?;
    Some(match text.char_indices().nth(REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(metric: Option<&str>, score: f64) -> AssertionResult {
        AssertionResult {
            kind: "contains".into(),
            pass: score >= 0.5,
            score,
            reason: String::new(),
            metric: metric.map(String::from),
        }
    }

    fn trial(trial: u32, assertions: Vec<AssertionResult>, error: Option<&str>) -> TrialRecord {
        TrialRecord {
            trial,
            output: None,
            error: error.map(String::from),
            pass: true,
            score: 1.0,
            assertions,
            latency_ms: 0,
            input_tokens: None,
            output_tokens: None,
            cost_usd: None,
            cached: false,
            model_reported: None,
        }
    }

    #[test]
    fn each_trial_scores_a_metric_by_the_mean_of_its_assertions() {
        let trials = [
            trial(
                0,
                vec![
                    assertion(Some("acc"), 1.0),
                    assertion(Some("acc"), 0.5),
                    assertion(None, 0.0),
                ],
                None,
            ),
            trial(1, vec![assertion(Some("acc"), 0.25)], None),
            // An errored trial scores nothing.
            trial(2, vec![assertion(Some("acc"), 1.0)], Some("timeout")),
        ];
        let scores = MetricScores::of(&trials);
        assert_eq!(scores.len(), 1);
        let acc = scores["acc"];
        assert_eq!(acc.trials, 2);
        assert!((acc.sum - 1.0).abs() < 1e-12 && (acc.sum_sq - (0.5625 + 0.0625)).abs() < 1e-12);
    }
}
