//! The gate's data: what a surface is judged from (each side's results, thresholds, the
//! settings each side ran with, the suite's edits) and what judging it yields, as
//! `report.json` holds it (side statistics, flips, tail and metric statistics, each rule's
//! identity and outcome), with the version of the documents promptgate writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::MetricThreshold;
use crate::eval::case_diff::CaseChange;
use crate::eval::run::{
    CaseStatus, CaseSummary, Latency, MetricValue, ModelsReported, SurfaceResult,
};

/// The version of the documents promptgate writes (`report.json`, `eval.json`, shards):
/// raised when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// One side's results for a surface.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SideResult {
    pub cases: Vec<CaseSummary>,
    /// Whether every expected case came back (none lost, none errored).
    #[serde(default)]
    pub complete: bool,
    pub metrics: BTreeMap<String, MetricValue>,
    pub cost_usd: Option<f64>,
    pub latency_ms: Latency,
    /// How many of the side's answers named each model.
    #[serde(default, skip_serializing_if = "ModelsReported::is_empty")]
    pub models_reported: ModelsReported,
}

impl From<SurfaceResult> for SideResult {
    fn from(result: SurfaceResult) -> Self {
        SideResult {
            complete: result.complete,
            cases: result.case_summaries,
            metrics: result.metrics,
            cost_usd: result.cost_usd,
            latency_ms: result.latency_ms,
            models_reported: result.models_reported,
        }
    }
}

impl SideResult {
    /// The totals of two parts of one side (other cases, or other trials of the same
    /// cases): metrics re-weighted by their counts, costs summed, completeness of both.
    /// Percentiles do not merge exactly; the slower part's stand for the whole.
    fn absorb_totals(&mut self, other: &SideResult) {
        let mut sums: BTreeMap<String, (f64, u64)> = BTreeMap::new();
        for (name, metric) in self.metrics.iter().chain(other.metrics.iter()) {
            let entry = sums.entry(name.clone()).or_default();
            entry.0 += metric.mean * metric.count as f64;
            entry.1 += metric.count;
        }
        self.metrics = sums
            .into_iter()
            .map(|(name, (sum, count))| {
                let mean = sum / count.max(1) as f64;
                (name, MetricValue { mean, count })
            })
            .collect();
        self.cost_usd = self.cost_usd.zip(other.cost_usd).map(|(x, y)| x + y);
        self.complete = self.complete && other.complete;
        self.models_reported.absorb(&other.models_reported);
        self.latency_ms = Latency {
            p50: self.latency_ms.p50.max(other.latency_ms.p50),
            p95: self.latency_ms.p95.max(other.latency_ms.p95),
        };
    }

    /// Two parts of one side with different cases (two shards): cases joined.
    pub fn join_cases(mut self, other: SideResult) -> SideResult {
        self.absorb_totals(&other);
        self.cases.extend(other.cases);
        self
    }

    /// A later round of the same cases added: each case's trials summed, its status
    /// re-decided by `quorum` (passing trials needed out of a number of trials), flaky
    /// when its trials disagree, an error when either round errored. A case the later
    /// round lacks keeps its trials; one only the later round has is added.
    pub fn add_round(mut self, next: SideResult, quorum: impl Fn(u32) -> u32) -> SideResult {
        self.absorb_totals(&next);
        let mut by_id: BTreeMap<String, CaseSummary> =
            next.cases.into_iter().map(|c| (c.id.clone(), c)).collect();
        for case in &mut self.cases {
            let Some(later) = by_id.remove(&case.id) else {
                continue;
            };
            case.passed_trials += later.passed_trials;
            case.trials += later.trials;
            case.flaky = case.passed_trials != 0 && case.passed_trials != case.trials;
            case.status = if case.status == CaseStatus::Error || later.status == CaseStatus::Error {
                CaseStatus::Error
            } else if case.passed_trials >= quorum(case.trials) {
                CaseStatus::Pass
            } else {
                CaseStatus::Fail
            };
            if case.reason.is_none() || later.status != CaseStatus::Pass {
                case.reason = later.reason.or(case.reason.take());
            }
            if case.output.is_none() {
                case.output = later.output;
            }
            for (metric, scores) in later.metrics {
                case.metrics.entry(metric).or_default().add(scores);
            }
        }
        self.cases.extend(by_id.into_values());
        self
    }
}

/// The thresholds a surface is judged by (from the base config; the head's for a new one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Thresholds {
    pub min_pass_rate: Option<f64>,
    pub max_drop: Option<f64>,
    pub tail_min_pass_rate: Option<f64>,
    pub metrics: Vec<MetricRule>,
    pub significance: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricRule {
    pub name: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_drop: Option<f64>,
}

impl From<&MetricThreshold> for MetricRule {
    fn from(m: &MetricThreshold) -> Self {
        MetricRule {
            name: m.name.clone(),
            min: m.min,
            max: m.max,
            max_drop: m.max_drop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SurfaceChange {
    /// New in this change: judged on its own thresholds, no base.
    Added,
    Modified,
    /// Removed by this change: listed, not evaluated.
    Removed,
}

/// A value on each side of the change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SidePair<T> {
    pub base: Option<T>,
    pub head: Option<T>,
}

impl<T: PartialEq> SidePair<T> {
    /// Both sides, when both are known and differ.
    pub fn changed(&self) -> Option<(&T, &T)> {
        self.base
            .as_ref()
            .zip(self.head.as_ref())
            .filter(|(b, h)| b != h)
    }
}

/// What one side's calls were made with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideSettings {
    pub provider: String,
    pub model: String,
    /// Request parameters (the provider's, overlaid by the prompt's front matter).
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

/// Both sides' outputs graded against the suite as it stood on the base, when the change
/// edits the suite: the head's cases decide the rules, this shows what the edit hides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaseSuiteSides {
    pub base: SideResult,
    pub head: SideResult,
}

/// Where a surface's judging stands in its sequential plan: after `round` of at most `max`
/// rounds of trials. Before the last round a rule the data cannot decide yet is
/// inconclusive (another round runs); at the last one the point estimate decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Look {
    pub round: u32,
    pub max: u32,
}

impl Default for Look {
    /// One round that is also the last: what a plain run (no sequential plan) is.
    fn default() -> Self {
        Look { round: 1, max: 1 }
    }
}

impl Look {
    pub fn is_last(&self) -> bool {
        self.round >= self.max
    }
}

/// What a surface is judged from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SurfaceInput {
    pub name: String,
    pub change: SurfaceChange,
    pub changed_files: Vec<String>,
    /// Whether the surface has eval rules (`gate = true`).
    pub gated: bool,
    pub thresholds: Thresholds,
    pub base: Option<SideResult>,
    pub head: Option<SideResult>,
    /// Provider, model and parameters of each side's calls.
    #[serde(default)]
    pub settings: SidePair<SideSettings>,
    /// The eval cases the change adds, removes or edits (base → head).
    #[serde(default)]
    pub suite_changes: Vec<CaseChange>,
    #[serde(default)]
    pub base_suite: Option<BaseSuiteSides>,
    /// Observations made while loading the sides.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The round these results end with, of the plan's rounds.
    #[serde(default)]
    pub look: Look,
}

impl SurfaceInput {
    /// The model each side's answers named most (see [`ModelsReported::most_named`]).
    pub fn model_reported(&self) -> SidePair<String> {
        let most_named = |side: &Option<SideResult>| {
            let models = &side.as_ref()?.models_reported;
            models.most_named().map(String::from)
        };
        SidePair {
            base: most_named(&self.base),
            head: most_named(&self.head),
        }
    }
}

/// The head graded against the suite as it stood on the base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgainstBaseSuite {
    pub cases: usize,
    pub base: SideStats,
    pub head: SideStats,
    /// Case ids that pass on the base and fail on the head under the base's cases.
    pub regressions: Vec<String>,
    pub fixes: Vec<String>,
    /// The surface's rules that fail when judged on the base's suite (its cases, their
    /// difficulties and metric labels): what the suite edit hides. Each raises the change
    /// to `exec`, so the people who own the bar decide whether the new expectations stand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<RuleResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideStats {
    pub pass_rate: f64,
    pub passed: usize,
    pub cases: usize,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// A case that changed outcome between the sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flip {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_output: Option<String>,
    /// Why the failing side failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailStats {
    pub cases: usize,
    /// The tail's case ids, hardest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    pub base_pass_rate: Option<f64>,
    pub head_pass_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStats {
    pub name: String,
    pub base: Option<f64>,
    pub head: Option<f64>,
}

/// Which bound of a named metric a rule checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricBound {
    Min,
    Max,
    MaxDrop,
}

impl MetricBound {
    fn as_str(self) -> &'static str {
        match self {
            MetricBound::Min => "min",
            MetricBound::Max => "max",
            MetricBound::MaxDrop => "max_drop",
        }
    }
}

/// A rule's identity: which threshold it checks. Written as in `report.json`:
/// `min_pass_rate`, `max_drop`, `mcnemar`, `tail_min_pass_rate`, `metric:NAME:min|max|max_drop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleId {
    MinPassRate,
    MaxDrop,
    Mcnemar,
    TailMinPassRate,
    Metric { name: String, bound: MetricBound },
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleId::MinPassRate => f.write_str("min_pass_rate"),
            RuleId::MaxDrop => f.write_str("max_drop"),
            RuleId::Mcnemar => f.write_str("mcnemar"),
            RuleId::TailMinPassRate => f.write_str("tail_min_pass_rate"),
            RuleId::Metric { name, bound } => write!(f, "metric:{name}:{}", bound.as_str()),
        }
    }
}

impl std::str::FromStr for RuleId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "min_pass_rate" => RuleId::MinPassRate,
            "max_drop" => RuleId::MaxDrop,
            "mcnemar" => RuleId::Mcnemar,
            "tail_min_pass_rate" => RuleId::TailMinPassRate,
            other => {
                let metric = other
                    .strip_prefix("metric:")
                    .and_then(|m| m.rsplit_once(':'));
                let Some((name, bound)) = metric else {
                    return Err(format!("`{other}` is not a rule"));
                };
                let bound = match bound {
                    "min" => MetricBound::Min,
                    "max" => MetricBound::Max,
                    "max_drop" => MetricBound::MaxDrop,
                    _ => return Err(format!("`{other}` is not a rule")),
                };
                RuleId::Metric {
                    name: name.to_string(),
                    bound,
                }
            }
        })
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule: RuleId,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub ok: bool,
    /// Why there is no value, or what the rule means here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How the rule was decided, for the rules judged with their uncertainty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
}

/// How a threshold rule was decided from noisy data: the interval around its value (trial
/// noise, cases fixed) and whether the data showed the answer or the point estimate had to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub low: f64,
    pub high: f64,
    pub by: DecidedBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidedBy {
    /// The interval lies on one side of the threshold.
    Data,
    /// The last round came and the interval still straddled it.
    PointEstimate,
    /// Not yet: another round of trials is due (never in a finished report).
    Inconclusive,
}

impl RuleResult {
    /// The rule in a sentence, for reasons.
    pub fn describe(&self) -> String {
        let value = self
            .value
            .map_or("not measured".to_string(), |v| format!("{v:.4}"));
        let threshold = self
            .threshold
            .map(|t| format!(" (threshold {t})"))
            .unwrap_or_default();
        let note = self
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        format!(
            "rule `{}` {} with {value}{threshold}{note}",
            self.rule,
            if self.ok { "held" } else { "failed" }
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideCost {
    pub base_usd: Option<f64>,
    pub head_usd: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideLatency {
    pub base: Option<Latency>,
    pub head: Option<Latency>,
}

/// A judged surface, as `report.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SurfaceReport {
    pub name: String,
    pub change: SurfaceChange,
    pub changed_files: Vec<String>,
    /// Cases on the head side (the base's for a removed surface).
    pub cases: usize,
    pub base: Option<SideStats>,
    pub head: Option<SideStats>,
    /// Head pass rate minus base pass rate.
    pub delta: Option<f64>,
    pub regressions: Vec<Flip>,
    pub fixes: Vec<Flip>,
    pub flaky: Vec<String>,
    pub mcnemar_p: Option<f64>,
    pub tail: Option<TailStats>,
    pub metrics: Vec<MetricStats>,
    pub rules: Vec<RuleResult>,
    pub cost: SideCost,
    pub latency_ms: SideLatency,
    /// The model each side ran with; `provider` and `parameters` likewise.
    pub model: SidePair<String>,
    /// The model each side's answers named most (`None` when none named one).
    #[serde(default)]
    pub model_reported: SidePair<String>,
    pub provider: SidePair<String>,
    pub parameters: SidePair<serde_json::Map<String, serde_json::Value>>,
    /// The eval cases the change adds, removes or edits, each with what loosens the suite.
    pub suite_changes: Vec<CaseChange>,
    /// Present when the suite changed: the head against the suite as it stood on the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_base_suite: Option<AgainstBaseSuite>,
    /// Case ids only one side has: never counted as flips.
    pub only_in_base: Vec<String>,
    pub only_in_head: Vec<String>,
    /// Case ids with an error trial, either side.
    pub errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub complete: bool,
    pub notes: Vec<String>,
    /// Rounds of trials the surface took, of the plan's most.
    #[serde(default = "one")]
    pub rounds: u32,
    #[serde(default = "one")]
    pub max_rounds: u32,
    /// Trials run for the surface, every side and round (each a model call or a cached
    /// answer).
    #[serde(default)]
    pub trials: u64,
    /// The mean paired drop of case outcomes (fractions of trials passed), base − head, with
    /// its interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<Measured>,
    /// Whether a rule still waits for another round (only before the last one).
    #[serde(default)]
    pub inconclusive: bool,
    /// The smallest drop this suite blocks with 80% probability, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<String>,
}

fn one() -> u32 {
    1
}

/// A value with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, passed: u32, trials: u32, status: CaseStatus) -> CaseSummary {
        CaseSummary {
            id: id.into(),
            status,
            flaky: passed != 0 && passed != trials,
            passed_trials: passed,
            trials,
            difficulty: None,
            reason: (status != CaseStatus::Pass).then(|| format!("{id} failed")),
            output: None,
            metrics: Default::default(),
        }
    }

    fn result(cases: Vec<CaseSummary>, cost: f64) -> SideResult {
        SideResult {
            cases,
            complete: true,
            metrics: BTreeMap::from([(
                "acc".to_string(),
                MetricValue {
                    mean: 1.0,
                    count: 2,
                },
            )]),
            cost_usd: Some(cost),
            latency_ms: Latency { p50: 10, p95: 20 },
            models_reported: Default::default(),
        }
    }

    #[test]
    fn a_later_round_adds_trials_and_re_decides_each_case() {
        use CaseStatus::{Error, Fail, Pass};
        let first = result(
            vec![
                summary("a", 1, 1, Pass),
                summary("b", 0, 1, Fail),
                summary("c", 1, 1, Pass),
                summary("d", 1, 1, Pass),
            ],
            1.0,
        );
        let mut second = result(
            vec![
                summary("a", 1, 1, Pass),
                summary("b", 1, 1, Pass),
                summary("c", 0, 1, Fail),
                summary("d", 0, 1, Error),
            ],
            2.0,
        );
        second.metrics.insert(
            "acc".into(),
            MetricValue {
                mean: 0.0,
                count: 2,
            },
        );
        second.latency_ms = Latency { p50: 30, p95: 5 };
        // A strict majority of the trials so far.
        let joined = first.add_round(second, |trials| trials / 2 + 1);
        let case = |id: &str| joined.cases.iter().find(|c| c.id == id).cloned().unwrap();
        assert_eq!((case("a").passed_trials, case("a").trials), (2, 2));
        assert_eq!((case("a").status, case("a").flaky), (Pass, false));
        // One pass in two trials is no majority; the trials disagree.
        assert_eq!((case("b").status, case("b").flaky), (Fail, true));
        assert_eq!((case("c").status, case("c").flaky), (Fail, true));
        assert_eq!(case("c").reason.as_deref(), Some("c failed"));
        // An error in any round stays an error.
        assert_eq!(case("d").status, Error);
        assert_eq!(joined.cost_usd, Some(3.0));
        assert_eq!(
            (joined.metrics["acc"].mean, joined.metrics["acc"].count),
            (0.5, 4)
        );
        assert_eq!((joined.latency_ms.p50, joined.latency_ms.p95), (30, 20));
    }

    #[test]
    fn the_models_answers_name_add_up_across_rounds_and_shards() {
        let named = |model: &str, answers: u64| {
            let mut side = result(vec![summary("a", 1, 1, CaseStatus::Pass)], 0.0);
            side.models_reported.add(model, answers);
            side
        };
        let rounds = named("m-1", 2).add_round(named("m-2", 3), |trials| trials / 2 + 1);
        let joined = rounds.join_cases(named("m-1", 2));
        let counts: Vec<(&str, u64)> = joined
            .models_reported
            .counts()
            .iter()
            .map(|(m, n)| (m.as_str(), *n))
            .collect();
        assert_eq!(counts, [("m-1", 4), ("m-2", 3)]);
        let input: SurfaceInput = serde_json::from_value(serde_json::json!({
            "name": "s", "change": "modified", "changed_files": [], "gated": true,
            "thresholds": {"min_pass_rate": null, "max_drop": null,
                "tail_min_pass_rate": null, "metrics": [], "significance": 0.05},
            "base": {"cases": [], "metrics": {}, "cost_usd": null,
                "latency_ms": {"p50": 0, "p95": 0}},
            "head": serde_json::to_value(&joined).expect("side"),
        }))
        .expect("an input written before sides counted models still reads");
        assert_eq!(
            input.model_reported(),
            SidePair {
                base: None,
                head: Some("m-1".to_string())
            }
        );
    }

    #[test]
    fn rule_ids_read_as_they_are_written() {
        for text in [
            "min_pass_rate",
            "max_drop",
            "mcnemar",
            "tail_min_pass_rate",
            "metric:a:b:max_drop",
            "metric:acc:min",
        ] {
            let id: RuleId = text.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(id.to_string(), text);
            assert_eq!(
                serde_json::to_value(&id).ok(),
                Some(serde_json::json!(text))
            );
        }
        assert!("metric:acc:mean".parse::<RuleId>().is_err());
        assert!("min_rate".parse::<RuleId>().is_err());
    }
}
