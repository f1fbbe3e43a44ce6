//! Folding: trials land as their tasks finish and are folded into a case when its last
//! trial is in (an error if any trial errored, else pass by quorum, flaky when the trials
//! disagree); a trial that never lands (its task panicked) makes its case an error, never a
//! dropped case. Finished cases fold into a surface's totals, which are `complete` only when
//! every expected case came back without error.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::records::{error_trial, CaseRecord, CaseStatus, CaseSummary, TrialRecord};
use super::{
    Latency, MetricValue, ModelsReported, Options, RunResult, Shard, SurfaceResult, Target,
};

/// The error of a trial whose task never reported back.
pub(super) const LOST_TRIAL: &str = "the trial never finished: the task running it failed";

/// A finished trial, on its way to the collector.
pub(super) struct Landed {
    pub(super) target: usize,
    pub(super) case: usize,
    pub(super) record: TrialRecord,
}

/// Folds landed trials into cases and cases into surfaces.
pub(super) async fn collect(
    targets: Vec<Arc<Target>>,
    shard: Option<Shard>,
    mut rx: mpsc::Receiver<Landed>,
    mut sink: impl FnMut(&CaseRecord),
    options: Arc<Options>,
) -> RunResult {
    let mut pending: HashMap<(usize, usize), Vec<TrialRecord>> = HashMap::new();
    let mut surfaces: Vec<Accumulator> = targets
        .iter()
        .map(|t| Accumulator::for_target(t, shard, options.keep_outputs))
        .collect();
    let mut landed = 0u64;
    let mut folded: HashSet<(usize, usize)> = HashSet::new();
    while let Some(Landed {
        target,
        case,
        record,
    }) = rx.recv().await
    {
        landed += 1;
        if let Some(progress) = &options.on_progress {
            progress(landed);
        }
        let trials = pending.entry((target, case)).or_default();
        trials.push(record);
        if trials.len() as u32 == targets[target].repeat {
            let mut trials = pending.remove(&(target, case)).unwrap_or_default();
            trials.sort_by_key(|t| t.trial);
            let record = fold(&targets[target], case, trials);
            surfaces[target].add(&record);
            sink(&record);
            folded.insert((target, case));
        }
    }
    // A trial whose task failed (a panic) never lands: its case is an error, never dropped.
    for (t, target) in targets.iter().enumerate() {
        for (case, id) in target.suite.cases.iter().map(|c| &c.id).enumerate() {
            let expected = shard.is_none_or(|s| s.contains(&target.suite.surface, id));
            if !expected || folded.contains(&(t, case)) {
                continue;
            }
            let mut trials = pending.remove(&(t, case)).unwrap_or_default();
            for trial in target.first_trial..target.first_trial + target.repeat {
                if !trials.iter().any(|r| r.trial == trial) {
                    trials.push(error_trial(trial, LOST_TRIAL.into()));
                }
            }
            trials.sort_by_key(|r| r.trial);
            let record = fold(target, case, trials);
            surfaces[t].add(&record);
            sink(&record);
        }
    }
    RunResult {
        surfaces: surfaces
            .into_iter()
            .zip(&targets)
            .map(|(acc, t)| acc.finish(&t.suite.surface, &t.endpoint.name))
            .collect(),
        calls: 0,
        cache_hits: 0,
        spent_usd: None,
    }
}

/// A case from its trials: an error if any trial errored, else pass by quorum.
fn fold(target: &Target, case: usize, trials: Vec<TrialRecord>) -> CaseRecord {
    let (status, flaky, passed_trials) = verdict_of(&trials, target.quorum);
    CaseRecord {
        surface: target.suite.surface.clone(),
        id: target.suite.cases[case].id.clone(),
        difficulty: target.suite.cases[case].difficulty,
        status,
        flaky,
        passed_trials,
        trials,
    }
}

/// A case's status from its trials: an error if any trial errored (never counted either
/// way), else pass when at least `quorum` trials pass; flaky when the trials disagree.
fn verdict_of(trials: &[TrialRecord], quorum: u32) -> (CaseStatus, bool, u32) {
    let passed = trials.iter().filter(|t| t.pass).count() as u32;
    let errored = trials.iter().any(|t| t.error.is_some());
    let status = if errored {
        CaseStatus::Error
    } else if passed >= quorum {
        CaseStatus::Pass
    } else {
        CaseStatus::Fail
    };
    (
        status,
        !errored && passed > 0 && passed < trials.len() as u32,
        passed,
    )
}

/// Running totals for one surface, from its finished cases (also used to merge shards).
pub struct Accumulator {
    keep_outputs: bool,
    summaries: Vec<CaseSummary>,
    metrics: BTreeMap<String, (f64, u64)>,
    cost: Option<f64>,
    input_tokens: u64,
    output_tokens: u64,
    latencies: Vec<u64>,
    models: ModelsReported,
    expected: usize,
}

impl Accumulator {
    pub(super) fn for_target(target: &Target, shard: Option<Shard>, keep_outputs: bool) -> Self {
        let expected = target
            .suite
            .cases
            .iter()
            .filter(|c| shard.is_none_or(|s| s.contains(&target.suite.surface, &c.id)))
            .count();
        Accumulator::new(expected, target.repeat, keep_outputs)
    }

    /// Totals expecting `expected` cases of `repeat` trials.
    pub fn new(expected: usize, repeat: u32, keep_outputs: bool) -> Self {
        Accumulator {
            keep_outputs,
            summaries: Vec::with_capacity(expected),
            metrics: BTreeMap::new(),
            cost: Some(0.0),
            input_tokens: 0,
            output_tokens: 0,
            latencies: Vec::with_capacity(expected * repeat as usize),
            models: ModelsReported::default(),
            expected,
        }
    }

    pub fn add(&mut self, record: &CaseRecord) {
        for trial in &record.trials {
            if trial.output.is_some() {
                self.latencies.push(trial.latency_ms);
            }
            self.cost = self
                .cost
                .zip(trial.cost_usd.or(trial.error.as_ref().map(|_| 0.0)))
                .map(|(a, b)| a + b);
            if let Some(model) = &trial.model_reported {
                self.models.add(model, 1);
            }
            self.input_tokens += trial.input_tokens.unwrap_or(0);
            self.output_tokens += trial.output_tokens.unwrap_or(0);
            for result in &trial.assertions {
                if let Some(metric) = &result.metric {
                    let entry = self.metrics.entry(metric.clone()).or_insert((0.0, 0));
                    entry.0 += result.score;
                    entry.1 += 1;
                }
            }
        }
        self.summaries
            .push(CaseSummary::of(record, self.keep_outputs));
    }

    pub fn finish(mut self, name: &str, provider: &str) -> SurfaceResult {
        self.summaries
            .sort_by(|a, b| crate::util::text::natural_cmp(&a.id, &b.id));
        self.latencies.sort_unstable();
        let count = |status| self.summaries.iter().filter(|s| s.status == status).count();
        let (passed, failed, errors) = (
            count(CaseStatus::Pass),
            count(CaseStatus::Fail),
            count(CaseStatus::Error),
        );
        let cases = self.summaries.len();
        SurfaceResult {
            name: name.to_string(),
            provider: provider.to_string(),
            cases,
            passed,
            failed,
            errors,
            flaky: self.summaries.iter().filter(|s| s.flaky).count(),
            pass_rate: if cases == 0 {
                0.0
            } else {
                passed as f64 / cases as f64
            },
            complete: errors == 0 && cases == self.expected,
            metrics: self
                .metrics
                .into_iter()
                .map(|(name, (sum, count))| {
                    (
                        name,
                        MetricValue {
                            mean: sum / count as f64,
                            count,
                        },
                    )
                })
                .collect(),
            cost_usd: self.cost,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            latency_ms: Latency {
                p50: percentile(&self.latencies, 50),
                p95: percentile(&self.latencies, 95),
            },
            model_reported: self.models.most_named().map(String::from),
            models_reported: self.models,
            case_summaries: self.summaries,
        }
    }
}

/// The nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// A strict majority of `repeat` trials.
pub fn default_quorum(repeat: u32) -> u32 {
    repeat / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!((percentile(&values, 50), percentile(&values, 95)), (50, 95));
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    fn trial(pass: bool, error: bool) -> TrialRecord {
        let mut t = error_trial(0, "boom".into());
        t.pass = pass;
        if !error {
            t.error = None;
            t.output = Some("x".into());
        }
        t
    }

    #[test]
    fn cases_fold_by_quorum_flag_flaky_and_never_count_errors() {
        let (p, f) = (trial(true, false), trial(false, false));
        assert_eq!(
            verdict_of(&[p.clone(), f.clone(), p.clone()], 2),
            (CaseStatus::Pass, true, 2)
        );
        assert_eq!(
            verdict_of(&[p.clone(), f.clone(), f.clone()], 2),
            (CaseStatus::Fail, true, 1)
        );
        assert_eq!(
            verdict_of(&[p.clone(), p.clone(), p.clone()], 2),
            (CaseStatus::Pass, false, 3)
        );
        assert_eq!(
            verdict_of(&[f.clone(), f.clone()], 2),
            (CaseStatus::Fail, false, 0)
        );
        assert_eq!(
            verdict_of(&[p.clone(), p.clone(), trial(false, true)], 2),
            (CaseStatus::Error, false, 2)
        );
        // With an even repeat, a tie is not a majority.
        assert_eq!(
            verdict_of(&[p.clone(), f.clone()], default_quorum(2)),
            (CaseStatus::Fail, true, 1)
        );
    }

    #[test]
    fn quorum_is_a_strict_majority() {
        assert_eq!(
            (
                default_quorum(1),
                default_quorum(2),
                default_quorum(3),
                default_quorum(4)
            ),
            (1, 2, 2, 3)
        );
    }

    #[test]
    fn a_case_that_never_arrived_leaves_the_surface_incomplete() {
        let record = |id: &str| CaseRecord {
            surface: "s".into(),
            id: id.into(),
            status: CaseStatus::Pass,
            flaky: false,
            passed_trials: 1,
            difficulty: None,
            trials: vec![trial(true, false)],
        };
        let mut surface = Accumulator::new(2, 1, false);
        surface.add(&record("a"));
        let surface = surface.finish("s", "p");
        assert_eq!((surface.cases, surface.passed, surface.errors), (1, 1, 0));
        assert!(
            !surface.complete,
            "one of the two expected cases never came back"
        );
        let mut surface = Accumulator::new(2, 1, false);
        surface.add(&record("a"));
        surface.add(&record("b"));
        assert!(surface.finish("s", "p").complete);
    }

    #[test]
    fn a_surface_reports_the_model_most_of_its_answers_name() {
        let named = |model: Option<&str>| {
            let mut t = trial(true, false);
            t.model_reported = model.map(String::from);
            t
        };
        let record = |id: &str, trials: Vec<TrialRecord>| CaseRecord {
            surface: "s".into(),
            id: id.into(),
            status: CaseStatus::Pass,
            flaky: false,
            passed_trials: trials.len() as u32,
            difficulty: None,
            trials,
        };
        let mut surface = Accumulator::new(2, 2, false);
        surface.add(&record(
            "a",
            vec![named(Some("m-new")), named(Some("m-old"))],
        ));
        surface.add(&record("b", vec![named(Some("m-new")), named(None)]));
        let surface = surface.finish("s", "p");
        assert_eq!(surface.model_reported.as_deref(), Some("m-new"));
        let counts: Vec<(&str, u64)> = surface
            .models_reported
            .counts()
            .iter()
            .map(|(m, n)| (m.as_str(), *n))
            .collect();
        assert_eq!(counts, [("m-new", 2), ("m-old", 1)]);
        let json = serde_json::to_value(&surface).expect("json");
        assert_eq!(json["models_reported"]["m-old"], 1);

        let mut unnamed = Accumulator::new(1, 1, false);
        unnamed.add(&record("a", vec![named(None)]));
        let unnamed = unnamed.finish("s", "p");
        assert_eq!(unnamed.model_reported, None);
        let json = serde_json::to_value(&unnamed).expect("json");
        assert!(json["model_reported"].is_null() && json.get("models_reported").is_none());
    }
}
