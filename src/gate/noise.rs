//! The rules' measures under trial noise: case outcomes and metric scores as fractions of
//! their trials, the head's mean, the paired drop from the base with its noise floor (the
//! standard error it would have if both sides were the same), the tail's mean, and the power
//! note that says how large a drop the suite can see.

use std::collections::HashMap;

use super::model::{Measured, SideResult, SurfaceInput, TailStats};
use super::sequential::{self, CaseTrials, Estimate, Looks, ScoreTrials};
use crate::eval::run::{CaseStatus, CaseSummary};

/// The rules' noisy measures: case outcomes as fractions of their trials, estimated with
/// the standard error of trial noise (the cases held fixed).
pub(super) struct Noisy {
    /// The head's mean fraction.
    pub head: Estimate,
    /// The mean paired drop (base − head) over the cases both sides ran.
    pub drop: Option<Estimate>,
    /// The drop's standard error if both sides were the same (its noise floor).
    pub null_se: f64,
    /// The head's mean fraction on the tail's cases.
    pub tail: Option<Estimate>,
    /// The base's mean fraction, cases and trials per case, for the power note.
    pub base_rate: Option<f64>,
    pub paired_cases: usize,
    pub trials_per_case: f64,
}

impl Noisy {
    pub fn measure(input: &SurfaceInput, tail: Option<&TailStats>) -> Noisy {
        let trials = |c: &CaseSummary| CaseTrials {
            passed: c.passed_trials,
            trials: c.trials,
        };
        let counted = |c: &&CaseSummary| c.status != CaseStatus::Error;
        let head_cases: Vec<&CaseSummary> = input
            .head
            .iter()
            .flat_map(|h| h.cases.iter())
            .filter(counted)
            .collect();
        let head = sequential::mean_rate(&head_cases.iter().map(|c| trials(c)).collect::<Vec<_>>());
        let tail = tail.map(|tail| {
            let cases: Vec<CaseTrials> = head_cases
                .iter()
                .filter(|c| tail.ids.contains(&c.id))
                .map(|c| trials(c))
                .collect();
            sequential::mean_rate(&cases)
        });
        let pairs: Vec<(CaseTrials, CaseTrials)> = match (&input.base, &input.head) {
            (Some(base), Some(_)) => {
                let by_id: HashMap<&str, &CaseSummary> = base
                    .cases
                    .iter()
                    .filter(counted)
                    .map(|c| (c.id.as_str(), c))
                    .collect();
                head_cases
                    .iter()
                    .filter_map(|h| by_id.get(h.id.as_str()).map(|b| (trials(b), trials(h))))
                    .collect()
            }
            _ => Vec::new(),
        };
        let base_rate = (!pairs.is_empty()).then(|| {
            pairs.iter().filter_map(|(b, _)| b.fraction()).sum::<f64>() / pairs.len() as f64
        });
        let trials_per_case = if pairs.is_empty() {
            0.0
        } else {
            pairs
                .iter()
                .map(|(b, h)| f64::from(b.trials.min(h.trials)))
                .sum::<f64>()
                / pairs.len() as f64
        };
        Noisy {
            head,
            drop: (!pairs.is_empty()).then(|| sequential::mean_drop(&pairs)),
            null_se: sequential::null_se(&pairs),
            tail,
            base_rate,
            paired_cases: pairs.len(),
            trials_per_case,
        }
    }

    pub fn looks(input: &SurfaceInput) -> Looks {
        Looks {
            max: input.look.max,
            alpha: input.thresholds.significance,
        }
    }

    /// The drop with its two-sided interval at the plain level (what the comment shows).
    pub fn drop_interval(&self, input: &SurfaceInput) -> Option<Measured> {
        let drop = self.drop.filter(|d| !d.value.is_nan())?;
        let z = Noisy::looks(input).pass_z();
        let margin = if drop.se.is_nan() {
            f64::INFINITY
        } else {
            z * drop.se
        };
        Some(Measured {
            value: drop.value,
            low: drop.value - margin,
            high: drop.value + margin,
        })
    }

    /// "With N cases this suite can see drops of X points or more", by the last round.
    pub fn power_note(&self, input: &SurfaceInput) -> Option<String> {
        let base_rate = self.base_rate?;
        let per_round = self.trials_per_case / f64::from(input.look.round.max(1));
        Some(sequential::power_note(
            self.paired_cases,
            base_rate,
            per_round * f64::from(input.look.max.max(1)),
            input.thresholds.max_drop,
            input.thresholds.significance,
        ))
    }
}

/// A named metric under trial noise, from the cases' per-trial scores: the head's mean score,
/// and the paired drop (base − head) with the standard error it would have if both sides
/// were the same. `None` where no case carries per-case scores.
pub(super) struct MetricNoise {
    pub head: Option<Estimate>,
    pub drop: Option<(Estimate, f64)>,
}

impl MetricNoise {
    pub fn measure(input: &SurfaceInput, name: &str) -> MetricNoise {
        let scores = |side: &SideResult| -> Vec<(String, ScoreTrials)> {
            side.cases
                .iter()
                .filter(|c| c.status != CaseStatus::Error)
                .filter_map(|c| {
                    let s = c.metrics.get(name)?;
                    let trials = ScoreTrials {
                        sum: s.sum,
                        sum_sq: s.sum_sq,
                        trials: s.trials,
                    };
                    Some((c.id.clone(), trials))
                })
                .collect()
        };
        let head = input.head.as_ref().map(scores).unwrap_or_default();
        let base: HashMap<String, ScoreTrials> = input
            .base
            .as_ref()
            .map(scores)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let pairs: Vec<(ScoreTrials, ScoreTrials)> = head
            .iter()
            .filter_map(|(id, h)| base.get(id).map(|b| (*b, *h)))
            .collect();
        let head: Vec<ScoreTrials> = head.into_iter().map(|(_, h)| h).collect();
        MetricNoise {
            head: (!head.is_empty()).then(|| sequential::mean_rate(&head)),
            drop: (!pairs.is_empty())
                .then(|| (sequential::mean_drop(&pairs), sequential::null_se(&pairs))),
        }
    }
}

/// A metric's drop (base − head) and the standard error it would have if both sides were
/// the same, bounding each score's variance by m(1 − m) for the pooled mean m.
pub(super) fn metric_drop(input: &SurfaceInput, name: &str) -> Option<(f64, f64)> {
    let side = |s: &Option<SideResult>| s.as_ref().and_then(|s| s.metrics.get(name).cloned());
    let (base, head) = (side(&input.base)?, side(&input.head)?);
    let total = (base.count + head.count) as f64;
    if base.count == 0 || head.count == 0 {
        return None;
    }
    let pooled = (base.mean * base.count as f64 + head.mean * head.count as f64) / total;
    let variance = (pooled * (1.0 - pooled)).max(0.0);
    let null_se = (variance / base.count as f64 + variance / head.count as f64).sqrt();
    Some((base.mean - head.mean, null_se))
}
