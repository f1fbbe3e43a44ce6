//! One surface judged: pass rates with Wilson intervals on each side, the flips between them
//! (regressions and fixes by case id, flaky cases apart, cases on one side only listed), the
//! paired McNemar test, the tail of the hardest cases, named metrics, and every configured
//! rule with its value, threshold and outcome. A rule that cannot be measured fails and says
//! why; none is skipped silently.

use std::collections::HashMap;

use super::model::{
    AgainstBaseSuite, Decided, DecidedBy, Flip, Look, MetricBound, MetricStats, RuleId, RuleResult,
    SideCost, SideLatency, SidePair, SideResult, SideSettings, SideStats, SurfaceChange,
    SurfaceInput, SurfaceReport, TailStats, Thresholds,
};
use super::noise::{metric_drop, MetricNoise, Noisy};
use super::sequential::{self, Bound, Estimate, Judgement};
use super::statistics::{mcnemar_exact, tail, wilson};
use crate::eval::case_diff::CaseChange;
use crate::eval::run::{CaseStatus, CaseSummary};

/// Tolerance for comparing rates with thresholds written in decimal.
const EPSILON: f64 = 1e-9;

/// Judges one surface.
pub fn judge_surface(input: SurfaceInput) -> SurfaceReport {
    let base = input.base.as_ref();
    let head = input.head.as_ref();
    let stats = |side: Option<&SideResult>| side.map(side_stats);
    let (base_stats, head_stats) = (stats(base), stats(head));
    let delta = base_stats
        .as_ref()
        .zip(head_stats.as_ref())
        .map(|(b, h)| h.pass_rate - b.pass_rate);
    let flips = pair(base, head);
    let mcnemar_p = base
        .and(head)
        .map(|_| mcnemar_exact(flips.regressions.len() as u64, flips.fixes.len() as u64));
    let tail_stats = head.and_then(|h| tail_stats(base, h));
    let metrics = metric_stats(&input.thresholds, base, head);
    let noisy = Noisy::measure(&input, tail_stats.as_ref());
    let mut notes = Vec::new();
    let rules = if input.gated && input.change != SurfaceChange::Removed {
        rules(&input, &noisy, &flips, mcnemar_p, &tail_stats, &metrics)
    } else {
        Vec::new()
    };
    let inconclusive = rules
        .iter()
        .any(|r| r.decided.is_some_and(|d| d.by == DecidedBy::Inconclusive));
    let drop = noisy.drop_interval(&input);
    if rules
        .iter()
        .any(|r| r.decided.is_some_and(|d| d.by == DecidedBy::PointEstimate))
    {
        notes.push(format!(
            "after {} round(s) of trials the data could not settle every rule, so the point estimate decided (see each rule)",
            input.look.round
        ));
    }
    if let (Some(tail), Some(delta)) = (&tail_stats, delta) {
        if let Some(base_tail) = tail.base_pass_rate {
            if tail.head_pass_rate + EPSILON < base_tail && delta >= -EPSILON {
                notes.push(format!(
                    "the hardest {} case(s) degrade ({:.1}% → {:.1}%) while the average holds",
                    tail.cases,
                    base_tail * 100.0,
                    tail.head_pass_rate * 100.0
                ));
            }
        }
    }
    notes.extend(input.notes.iter().cloned());
    let settings = &input.settings;
    let pick = |f: fn(&SideSettings) -> String| SidePair {
        base: settings.base.as_ref().map(f),
        head: settings.head.as_ref().map(f),
    };
    let (model, provider) = (pick(|s| s.model.clone()), pick(|s| s.provider.clone()));
    let parameters = SidePair {
        base: settings.base.as_ref().map(|s| s.parameters.clone()),
        head: settings.head.as_ref().map(|s| s.parameters.clone()),
    };
    if let Some((b, h)) = provider.changed() {
        notes.push(format!("provider: {b} → {h}"));
    }
    if let Some((b, h)) = model.changed() {
        notes.push(format!("model: {b} → {h}"));
    }
    if let Some((b, h)) = parameters.changed() {
        notes.push(format!(
            "parameters: {} → {}",
            serde_json::Value::Object(b.clone()),
            serde_json::Value::Object(h.clone())
        ));
    }
    if !input.suite_changes.is_empty() {
        notes.push(suite_note(&input.suite_changes));
    }
    let against_base_suite = input.base_suite.as_ref().map(|sides| {
        let judged = judge_surface(SurfaceInput {
            name: input.name.clone(),
            change: SurfaceChange::Modified,
            changed_files: Vec::new(),
            gated: input.gated,
            thresholds: input.thresholds.clone(),
            base: Some(sides.base.clone()),
            head: Some(sides.head.clone()),
            settings: SidePair::default(),
            suite_changes: Vec::new(),
            base_suite: None,
            notes: Vec::new(),
            look: input.look,
        });
        let ids = |flips: &[Flip]| flips.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        AgainstBaseSuite {
            cases: sides.head.cases.len(),
            base: side_stats(&sides.base),
            head: side_stats(&sides.head),
            regressions: ids(&judged.regressions),
            fixes: ids(&judged.fixes),
            failed_rules: judged.rules.into_iter().filter(|r| !r.ok).collect(),
        }
    });
    if let Some(against) = &against_base_suite {
        notes.push(format!(
            "against the suite as it stood on base: {} regression(s){}, {} fix(es); head {:.1}% vs base {:.1}%",
            against.regressions.len(),
            if against.regressions.is_empty() {
                String::new()
            } else {
                format!(" ({})", against.regressions.join(", "))
            },
            against.fixes.len(),
            against.head.pass_rate * 100.0,
            against.base.pass_rate * 100.0
        ));
    }
    match input.change {
        SurfaceChange::Added => notes.push(
            "added by this change: judged on its own thresholds, with no base to compare".into(),
        ),
        SurfaceChange::Removed => notes.push("removed by this change: not evaluated".into()),
        SurfaceChange::Modified => {}
    }
    let errors: Vec<String> = [base, head]
        .into_iter()
        .flatten()
        .flat_map(|side| side.cases.iter().filter(|c| c.status == CaseStatus::Error))
        .map(|c| c.id.clone())
        .collect();
    let first_error = [base, head]
        .into_iter()
        .flatten()
        .flat_map(|side| side.cases.iter())
        .find(|c| c.status == CaseStatus::Error)
        .and_then(|c| c.reason.clone())
        .or_else(|| {
            [base, head]
                .into_iter()
                .flatten()
                .any(|side| !side.complete)
                .then(|| "the run lost cases: not every case came back".to_string())
        });
    SurfaceReport {
        name: input.name.clone(),
        change: input.change,
        changed_files: input.changed_files.clone(),
        cases: head.or(base).map_or(0, |s| s.cases.len()),
        delta,
        regressions: flips.regressions,
        fixes: flips.fixes,
        flaky: flips.flaky,
        mcnemar_p,
        tail: tail_stats,
        metrics,
        rules,
        cost: SideCost {
            base_usd: base.and_then(|b| b.cost_usd),
            head_usd: head.and_then(|h| h.cost_usd),
        },
        latency_ms: SideLatency {
            base: base.map(|b| b.latency_ms),
            head: head.map(|h| h.latency_ms),
        },
        model,
        model_reported: input.model_reported(),
        provider,
        parameters,
        suite_changes: input.suite_changes.clone(),
        against_base_suite,
        only_in_base: flips.only_in_base,
        only_in_head: flips.only_in_head,
        complete: errors.is_empty()
            && base.is_none_or(|b| b.complete)
            && head.is_none_or(|h| h.complete),
        errors,
        first_error,
        base: base_stats,
        head: head_stats,
        notes,
        rounds: input.look.round,
        max_rounds: input.look.max,
        trials: trials_run(&input),
        drop,
        inconclusive,
        power: noisy.power_note(&input),
    }
}

/// Every trial the surface's sides ran, the base's suite included.
fn trials_run(input: &SurfaceInput) -> u64 {
    let suite = input.base_suite.as_ref();
    [
        input.base.as_ref(),
        input.head.as_ref(),
        suite.map(|s| &s.base),
        suite.map(|s| &s.head),
    ]
    .into_iter()
    .flatten()
    .flat_map(|side| &side.cases)
    .map(|c| u64::from(c.trials))
    .sum()
}

/// A threshold rule judged with its uncertainty at the surface's look.
fn judged(
    rule: RuleId,
    estimate: Estimate,
    threshold: f64,
    bound: Bound,
    (input, look): (&SurfaceInput, Look),
    floor: Option<f64>,
) -> RuleResult {
    // Thresholds are written in decimal: a value equal to one in exact arithmetic holds.
    let lenient = match bound {
        Bound::AtMost => threshold + EPSILON,
        Bound::AtLeast => threshold - EPSILON,
    };
    let verdict = sequential::judge(
        estimate,
        lenient,
        bound,
        look.round,
        &Noisy::looks(input),
        floor,
    );
    let by = match verdict.judgement {
        Judgement::Inconclusive => DecidedBy::Inconclusive,
        _ if verdict.by_point_estimate => DecidedBy::PointEstimate,
        _ => DecidedBy::Data,
    };
    let note = match by {
        DecidedBy::Inconclusive => Some(format!(
            "inconclusive after round {} of {}: the interval straddles the threshold",
            look.round, look.max
        )),
        DecidedBy::PointEstimate => Some(format!(
            "decided by the point estimate after {} round(s): the interval still straddled the threshold",
            look.round
        )),
        DecidedBy::Data => None,
    };
    RuleResult {
        rule,
        value: Some(estimate.value),
        threshold: Some(threshold),
        ok: verdict.judgement == Judgement::Held,
        note,
        decided: Some(Decided {
            low: verdict.low,
            high: verdict.high,
            by,
        }),
    }
}

/// The suite edit in one sentence: how many cases were added, removed and edited, and
/// how many of those edits loosen it.
fn suite_note(changes: &[CaseChange]) -> String {
    use crate::eval::case_diff::CaseChangeKind;
    let count = |kind: CaseChangeKind| changes.iter().filter(|c| c.change == kind).count();
    let loosening = changes.iter().filter(|c| c.loosens()).count();
    format!(
        "eval cases changed: {} added, {} removed, {} edited{}",
        count(CaseChangeKind::Added),
        count(CaseChangeKind::Removed),
        count(CaseChangeKind::Edited),
        if loosening == 0 {
            String::new()
        } else {
            format!(" ({loosening} loosen the suite)")
        }
    )
}

fn side_stats(side: &SideResult) -> SideStats {
    let cases = side.cases.len();
    let passed = side
        .cases
        .iter()
        .filter(|c| c.status == CaseStatus::Pass)
        .count();
    let interval = wilson(passed as u64, cases as u64);
    SideStats {
        pass_rate: if cases == 0 {
            0.0
        } else {
            passed as f64 / cases as f64
        },
        passed,
        cases,
        ci_low: interval.low,
        ci_high: interval.high,
    }
}

#[derive(Default)]
struct Flips {
    regressions: Vec<Flip>,
    fixes: Vec<Flip>,
    flaky: Vec<String>,
    only_in_base: Vec<String>,
    only_in_head: Vec<String>,
}

/// Pairs cases by id. Flaky cases (either side) are neither regressions nor fixes; cases
/// with an error are left to the error path; ids on one side only are listed apart.
fn pair(base: Option<&SideResult>, head: Option<&SideResult>) -> Flips {
    let mut flips = Flips::default();
    let (Some(base), Some(head)) = (base, head) else {
        if let Some(head) = head {
            flips.flaky = head
                .cases
                .iter()
                .filter(|c| c.flaky)
                .map(|c| c.id.clone())
                .collect();
        }
        return flips;
    };
    let base_by_id: HashMap<&str, &CaseSummary> =
        base.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let head_ids: std::collections::HashSet<&str> =
        head.cases.iter().map(|c| c.id.as_str()).collect();
    flips.only_in_base = base
        .cases
        .iter()
        .filter(|c| !head_ids.contains(c.id.as_str()))
        .map(|c| c.id.clone())
        .collect();
    for h in &head.cases {
        let Some(b) = base_by_id.get(h.id.as_str()) else {
            flips.only_in_head.push(h.id.clone());
            continue;
        };
        if b.flaky || h.flaky {
            flips.flaky.push(h.id.clone());
            continue;
        }
        let flip = || Flip {
            id: h.id.clone(),
            base_output: b.output.clone(),
            head_output: h.output.clone(),
            reason: if h.status == CaseStatus::Fail {
                h.reason.clone()
            } else {
                b.reason.clone()
            },
        };
        match (b.status, h.status) {
            (CaseStatus::Pass, CaseStatus::Fail) => flips.regressions.push(flip()),
            (CaseStatus::Fail, CaseStatus::Pass) => flips.fixes.push(flip()),
            _ => {}
        }
    }
    flips.only_in_base.sort();
    flips.only_in_head.sort();
    flips.flaky.sort();
    flips
}

/// The tail: the hardest ⌈10%⌉ of the head's cases by difficulty, and how those same ids
/// fare on each side.
fn tail_stats(base: Option<&SideResult>, head: &SideResult) -> Option<TailStats> {
    let indexed: Vec<(usize, Option<f64>)> = head
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.difficulty))
        .collect();
    let tail_indexes = tail(&indexed);
    if tail_indexes.is_empty() {
        return None;
    }
    let ids: Vec<&str> = tail_indexes
        .iter()
        .map(|&i| head.cases[i].id.as_str())
        .collect();
    let rate = |side: &SideResult| -> Option<f64> {
        let statuses: Vec<CaseStatus> = side
            .cases
            .iter()
            .filter(|c| ids.contains(&c.id.as_str()))
            .map(|c| c.status)
            .collect();
        (!statuses.is_empty()).then(|| {
            statuses.iter().filter(|s| **s == CaseStatus::Pass).count() as f64
                / statuses.len() as f64
        })
    };
    Some(TailStats {
        cases: ids.len(),
        ids: ids.iter().map(|id| id.to_string()).collect(),
        base_pass_rate: base.and_then(rate),
        head_pass_rate: rate(head).unwrap_or(0.0),
    })
}

fn metric_stats(
    thresholds: &Thresholds,
    base: Option<&SideResult>,
    head: Option<&SideResult>,
) -> Vec<MetricStats> {
    let mut names: Vec<String> = [base, head]
        .into_iter()
        .flatten()
        .flat_map(|s| s.metrics.keys().cloned())
        .collect();
    names.extend(thresholds.metrics.iter().map(|m| m.name.clone()));
    names.sort();
    names.dedup();
    let mean = |side: Option<&SideResult>, name: &str| {
        side.and_then(|s| s.metrics.get(name)).map(|m| m.mean)
    };
    names
        .into_iter()
        .map(|name| MetricStats {
            base: mean(base, &name),
            head: mean(head, &name),
            name,
        })
        .collect()
}

fn rules(
    input: &SurfaceInput,
    noisy: &Noisy,
    flips: &Flips,
    mcnemar_p: Option<f64>,
    tail: &Option<TailStats>,
    metrics: &[MetricStats],
) -> Vec<RuleResult> {
    let t = &input.thresholds;
    let no_base = if input.change == SurfaceChange::Added {
        "no base to compare: the surface is new in this change"
    } else {
        "not measured: the base side has no results (the reasons say why)"
    };
    let mut rules = Vec::new();
    if let Some(min) = t.min_pass_rate {
        rules.push(if noisy.head.value.is_nan() {
            at_least(RuleId::MinPassRate, None, min, "the head has no results")
        } else {
            judged(
                RuleId::MinPassRate,
                noisy.head,
                min,
                Bound::AtLeast,
                (input, input.look),
                None,
            )
        });
    }
    if let Some(max) = t.max_drop {
        // At the last round a drop must also be distinguishable from no change at all, at
        // the level the interim looks leave (with identical sides the drop is pure noise).
        let floor = Noisy::looks(input).block_z() * noisy.null_se;
        rules.push(match noisy.drop.filter(|d| !d.value.is_nan()) {
            Some(drop) => judged(
                RuleId::MaxDrop,
                drop,
                max,
                Bound::AtMost,
                (input, input.look),
                Some(floor),
            ),
            None => RuleResult {
                rule: RuleId::MaxDrop,
                value: None,
                threshold: Some(max),
                ok: input.change == SurfaceChange::Added,
                note: Some(no_base.into()),
                decided: None,
            },
        });
    }
    let (b, c) = (flips.regressions.len(), flips.fixes.len());
    rules.push(match mcnemar_p {
        Some(p) => RuleResult {
            rule: RuleId::Mcnemar,
            value: Some(p),
            threshold: Some(t.significance),
            ok: !(b > c && p < t.significance),
            note: Some(format!(
                "{b} regression(s), {c} fix(es); a significant regression blocks"
            )),
            decided: None,
        },
        None => RuleResult {
            rule: RuleId::Mcnemar,
            value: None,
            threshold: Some(t.significance),
            ok: input.change == SurfaceChange::Added,
            note: Some(no_base.into()),
            decided: None,
        },
    });
    if let Some(min) = t.tail_min_pass_rate {
        rules.push(match (tail, noisy.tail.filter(|e| !e.value.is_nan())) {
            (Some(_), Some(estimate)) => judged(
                RuleId::TailMinPassRate,
                estimate,
                min,
                Bound::AtLeast,
                (input, input.look),
                None,
            ),
            _ => RuleResult {
                rule: RuleId::TailMinPassRate,
                value: None,
                threshold: Some(min),
                ok: false,
                note: Some("cannot be measured: no case has a `difficulty`; add difficulties to the cases or remove the rule".into()),
                decided: None,
            },
        });
    }
    for rule in &t.metrics {
        let metric = |bound| RuleId::Metric {
            name: rule.name.clone(),
            bound,
        };
        let stats = metrics.iter().find(|m| m.name == rule.name);
        let head_mean = stats.and_then(|s| s.head);
        let unmeasured = format!(
            "cannot be measured: no assertion carries metric `{}`",
            rule.name
        );
        let scores = MetricNoise::measure(input, &rule.name);
        for (bound, threshold) in [(Bound::AtLeast, rule.min), (Bound::AtMost, rule.max)] {
            let Some(threshold) = threshold else {
                continue;
            };
            let id = metric(if bound == Bound::AtLeast {
                MetricBound::Min
            } else {
                MetricBound::Max
            });
            rules.push(match (scores.head, head_mean) {
                (Some(estimate), _) => {
                    judged(id, estimate, threshold, bound, (input, input.look), None)
                }
                // Scores without per-case data (a shard file from an older promptgate):
                // the point estimate decides.
                (None, Some(v)) => RuleResult {
                    rule: id,
                    value: Some(v),
                    threshold: Some(threshold),
                    ok: match bound {
                        Bound::AtLeast => v + EPSILON >= threshold,
                        Bound::AtMost => v <= threshold + EPSILON,
                    },
                    note: None,
                    decided: None,
                },
                (None, None) => RuleResult {
                    rule: id,
                    value: None,
                    threshold: Some(threshold),
                    ok: false,
                    note: Some(unmeasured.clone()),
                    decided: None,
                },
            });
        }
        if let Some(max_drop) = rule.max_drop {
            let fallback = metric_drop(input, &rule.name).map(|(drop, null_se)| {
                // Without per-case scores a metric is judged as at the last round, each
                // score's variance bounded by m(1 − m).
                let last = Look {
                    round: input.look.max,
                    max: input.look.max,
                };
                let estimate = Estimate {
                    value: drop,
                    se: null_se,
                };
                (estimate, null_se, last)
            });
            let judged_drop = scores
                .drop
                .map(|(estimate, null_se)| (estimate, null_se, input.look))
                .or(fallback);
            rules.push(match judged_drop {
                Some((estimate, null_se, look)) => judged(
                    metric(MetricBound::MaxDrop),
                    estimate,
                    max_drop,
                    Bound::AtMost,
                    (input, look),
                    Some(Noisy::looks(input).block_z() * null_se),
                ),
                None => RuleResult {
                    rule: metric(MetricBound::MaxDrop),
                    value: None,
                    threshold: Some(max_drop),
                    ok: input.change == SurfaceChange::Added && head_mean.is_some(),
                    note: Some(if input.change == SurfaceChange::Added {
                        no_base.into()
                    } else {
                        unmeasured.clone()
                    }),
                    decided: None,
                },
            });
        }
    }
    rules
}

fn at_least(rule: RuleId, value: Option<f64>, min: f64, unmeasured: &str) -> RuleResult {
    match value {
        Some(v) => RuleResult {
            rule,
            value: Some(v),
            threshold: Some(min),
            ok: v + EPSILON >= min,
            note: None,
            decided: None,
        },
        None => RuleResult {
            rule,
            value: None,
            threshold: Some(min),
            ok: false,
            note: Some(unmeasured.into()),
            decided: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::eval::run::{Latency, MetricValue};
    use crate::gate::model::MetricRule;

    fn case(id: &str, status: CaseStatus, flaky: bool, difficulty: Option<f64>) -> CaseSummary {
        CaseSummary {
            id: id.into(),
            status,
            flaky,
            passed_trials: u32::from(status == Pass),
            trials: 1,
            difficulty,
            reason: None,
            output: Some(format!("{id} output")),
            metrics: Default::default(),
        }
    }

    fn side(cases: Vec<CaseSummary>) -> SideResult {
        SideResult {
            complete: true,
            cases,
            metrics: BTreeMap::new(),
            cost_usd: Some(0.0),
            latency_ms: Latency::default(),
            models_reported: Default::default(),
        }
    }

    fn input(base: Option<SideResult>, head: SideResult, thresholds: Thresholds) -> SurfaceInput {
        SurfaceInput {
            name: "s".into(),
            change: if base.is_some() {
                SurfaceChange::Modified
            } else {
                SurfaceChange::Added
            },
            changed_files: vec![],
            gated: true,
            thresholds,
            base,
            head: Some(head),
            settings: SidePair::default(),
            suite_changes: Vec::new(),
            base_suite: None,
            notes: Vec::new(),
            look: Look::default(),
        }
    }

    #[test]
    fn a_side_that_lost_cases_is_incomplete_whatever_its_cases_say() {
        let mut lost = side(vec![case("a", Pass, false, None)]);
        lost.complete = false;
        let judged = judge_surface(input(
            Some(side(vec![case("a", Pass, false, None)])),
            lost,
            thresholds(),
        ));
        assert!(!judged.complete);
        assert_eq!(
            judged.first_error.as_deref(),
            Some("the run lost cases: not every case came back")
        );
        let decided = crate::gate::decide(crate::gate::Context::default(), vec![judged]);
        assert_eq!(decided.verdict, crate::gate::Verdict::Error);
    }

    #[test]
    fn a_modified_surface_without_base_results_is_not_called_new() {
        let mut surface = input(
            None,
            side(vec![case("a", CaseStatus::Pass, false, None)]),
            thresholds(),
        );
        surface.change = SurfaceChange::Modified;
        let judged = judge_surface(surface);
        let drop = judged.rules.iter().find(|r| r.rule == RuleId::MaxDrop);
        assert!(
            drop.is_some_and(|r| !r.ok
                && r.note
                    .as_deref()
                    .is_some_and(|n| n.starts_with("not measured"))),
            "{:?}",
            judged.rules
        );
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            min_pass_rate: Some(0.5),
            max_drop: Some(0.1),
            tail_min_pass_rate: None,
            metrics: vec![],
            significance: 0.05,
        }
    }

    use CaseStatus::{Fail, Pass};

    #[test]
    fn flips_are_paired_by_id_with_flaky_and_one_sided_cases_apart() {
        let base = side(vec![
            case("a", Pass, false, None),
            case("b", Fail, false, None),
            case("c", Pass, false, None),
            case("gone", Pass, false, None),
            case("f", Pass, false, None),
        ]);
        let head = side(vec![
            case("a", Fail, false, None),
            case("b", Pass, false, None),
            case("c", Pass, false, None),
            case("new", Fail, false, None),
            case("f", Fail, true, None),
        ]);
        let report = judge_surface(input(Some(base), head, thresholds()));
        assert_eq!(
            report
                .regressions
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>(),
            vec!["a"]
        );
        assert_eq!(
            report.regressions[0].base_output.as_deref(),
            Some("a output")
        );
        assert_eq!(
            report
                .fixes
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>(),
            vec!["b"]
        );
        assert_eq!(report.flaky, vec!["f"]);
        assert_eq!(
            (report.only_in_base.clone(), report.only_in_head.clone()),
            (vec!["gone".to_string()], vec!["new".to_string()])
        );
        assert_eq!(report.mcnemar_p, Some(1.0));
    }

    #[test]
    fn a_significant_regression_blocks_even_when_rates_hold() {
        let base = side(
            (0..40)
                .map(|i| case(&format!("c{i}"), Pass, false, None))
                .collect(),
        );
        let head = side(
            (0..40)
                .map(|i| {
                    case(
                        &format!("c{i}"),
                        if i < 10 { Fail } else { Pass },
                        false,
                        None,
                    )
                })
                .collect(),
        );
        let loose = Thresholds {
            min_pass_rate: Some(0.5),
            max_drop: Some(0.5),
            ..thresholds()
        };
        let report = judge_surface(input(Some(base), head, loose));
        let mcnemar = report
            .rules
            .iter()
            .find(|r| r.rule == RuleId::Mcnemar)
            .unwrap();
        assert!(!mcnemar.ok && mcnemar.value.unwrap() < 0.01, "{mcnemar:?}");
        assert!(report
            .rules
            .iter()
            .filter(|r| r.rule != RuleId::Mcnemar)
            .all(|r| r.ok));
    }

    /// A case run twice with the same outcome: trials that show no noise.
    fn twice(mut case: CaseSummary) -> CaseSummary {
        case.trials = 2;
        case.passed_trials *= 2;
        case
    }

    #[test]
    fn min_pass_rate_and_max_drop() {
        let base = side(vec![
            twice(case("a", Pass, false, None)),
            twice(case("b", Pass, false, None)),
        ]);
        let head = side(vec![
            twice(case("a", Pass, false, None)),
            twice(case("b", Fail, false, None)),
        ]);
        let report = judge_surface(input(
            Some(base),
            head,
            Thresholds {
                min_pass_rate: Some(0.6),
                ..thresholds()
            },
        ));
        let rule = |name: &str| {
            report
                .rules
                .iter()
                .find(|r| r.rule.to_string() == name)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            (rule("min_pass_rate").value, rule("min_pass_rate").ok),
            (Some(0.5), false)
        );
        assert_eq!(
            (rule("max_drop").value, rule("max_drop").ok),
            (Some(0.5), false)
        );
        assert_eq!(report.delta, Some(-0.5));
        assert_eq!(
            report
                .head
                .as_ref()
                .map(|h| h.ci_low > 0.0 && h.ci_high < 1.0),
            Some(true)
        );
    }

    #[test]
    fn tail_rule_and_its_callout() {
        let mk = |fail_hard: bool| {
            side(
                (0..20)
                    .map(|i| {
                        case(
                            &format!("c{i:02}"),
                            if fail_hard && i >= 18 { Fail } else { Pass },
                            false,
                            Some(i as f64),
                        )
                    })
                    .collect(),
            )
        };
        let mut base = mk(false);
        // Two easy cases fail on the base and two hard ones on the head: the average holds
        // while the tail degrades.
        base.cases[0].status = Fail;
        base.cases[1].status = Fail;
        let t = Thresholds {
            tail_min_pass_rate: Some(0.75),
            max_drop: None,
            ..thresholds()
        };
        let report = judge_surface(input(Some(base), mk(true), t));
        let tail_rule = report
            .rules
            .iter()
            .find(|r| r.rule == RuleId::TailMinPassRate)
            .unwrap();
        assert_eq!((tail_rule.value, tail_rule.ok), (Some(0.0), false));
        assert_eq!(report.tail.as_ref().map(|t| t.cases), Some(2));
        assert!(
            report.notes.iter().any(|n| n.contains("degrade")),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn unmeasurable_rules_fail_and_say_why() {
        let head = side(vec![case("a", Pass, false, None)]);
        let t = Thresholds {
            tail_min_pass_rate: Some(0.5),
            metrics: vec![MetricRule {
                name: "acc".into(),
                min: Some(0.9),
                max: None,
                max_drop: None,
            }],
            ..thresholds()
        };
        let report = judge_surface(input(
            Some(side(vec![case("a", Pass, false, None)])),
            head,
            t,
        ));
        let failing: Vec<&RuleResult> = report.rules.iter().filter(|r| !r.ok).collect();
        assert_eq!(failing.len(), 2);
        assert!(failing.iter().all(|r| r.value.is_none()
            && r.note
                .as_deref()
                .unwrap_or("")
                .starts_with("cannot be measured")));
    }

    #[test]
    fn added_surfaces_are_judged_on_their_own_thresholds() {
        let head = side(vec![
            case("a", Pass, false, None),
            case("b", Fail, false, None),
        ]);
        let report = judge_surface(input(None, head, thresholds()));
        assert!(report.rules.iter().all(|r| r.ok), "{:?}", report.rules);
        assert!(report
            .rules
            .iter()
            .find(|r| r.rule == RuleId::MaxDrop)
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("no base"));
        assert!(report
            .notes
            .iter()
            .any(|n| n.contains("added by this change")));
    }

    /// `n` one-trial cases, those in `failing` failed.
    fn one_trial(n: usize, failing: impl Fn(usize) -> bool) -> SideResult {
        side(
            (0..n)
                .map(|i| {
                    let status = if failing(i) { Fail } else { Pass };
                    case(&format!("c{i:03}"), status, false, None)
                })
                .collect(),
        )
    }

    fn at(look: Look, base: SideResult, head: SideResult, max_drop: f64) -> SurfaceReport {
        judge_surface(SurfaceInput {
            look,
            ..input(
                Some(base),
                head,
                Thresholds {
                    min_pass_rate: None,
                    max_drop: Some(max_drop),
                    ..thresholds()
                },
            )
        })
    }

    fn max_drop_rule(report: &SurfaceReport) -> RuleResult {
        report
            .rules
            .iter()
            .find(|r| r.rule == RuleId::MaxDrop)
            .cloned()
            .unwrap()
    }

    #[test]
    fn a_noisy_drop_near_the_threshold_asks_for_another_round_until_the_last() {
        // 200 cases at 85% on both sides, with 15 flips each way: no drop, but one trial
        // cannot show that the drop stays under 2 points.
        let base = one_trial(200, |i| i % 20 < 3 || (40..55).contains(&i));
        let head = one_trial(200, |i| i % 20 < 3 || (60..75).contains(&i));
        let first = at(Look { round: 1, max: 3 }, base.clone(), head.clone(), 0.02);
        assert!(first.inconclusive, "{:?}", first.rules);
        let rule = max_drop_rule(&first);
        assert!(!rule.ok && rule.decided.unwrap().by == DecidedBy::Inconclusive);
        assert_eq!((first.rounds, first.max_rounds), (1, 3));
        // At the last round the point estimate decides (here: no drop at all, held).
        let last = at(Look { round: 3, max: 3 }, base, head, 0.02);
        assert!(!last.inconclusive);
        let rule = max_drop_rule(&last);
        assert!(rule.ok, "{rule:?}");
        assert_eq!(rule.decided.unwrap().by, DecidedBy::PointEstimate);
        assert!(last
            .notes
            .iter()
            .any(|n| n.contains("point estimate decided")));
    }

    #[test]
    fn no_flips_at_all_is_settled_in_the_first_round() {
        let base = one_trial(200, |i| i % 7 == 0);
        let report = at(Look { round: 1, max: 3 }, base.clone(), base, 0.0);
        assert!(!report.inconclusive);
        let rule = max_drop_rule(&report);
        assert!(
            rule.ok && rule.decided.unwrap().by == DecidedBy::Data,
            "{rule:?}"
        );
        assert_eq!(report.drop.map(|d| (d.low, d.high)), Some((0.0, 0.0)));
    }

    #[test]
    fn a_drop_that_noise_could_make_does_not_block_at_the_last_round_and_says_so() {
        // One flip in four one-trial cases with `max_drop = 0`: above the threshold, but
        // identical sides would differ this much by chance.
        let base = one_trial(4, |_| false);
        let head = one_trial(4, |i| i == 0);
        let report = at(Look::default(), base.clone(), head.clone(), 0.0);
        let rule = max_drop_rule(&report);
        assert!(rule.ok, "{rule:?}");
        assert_eq!(rule.decided.unwrap().by, DecidedBy::PointEstimate);
        // The drop's interval includes no change at all: the comment calls it noise.
        let drop = report.drop.unwrap();
        assert!(drop.low < 0.0 && drop.high > 0.0, "{drop:?}");
        // The same flip repeated over a second trial is no noise: it blocks.
        let exact = at(
            Look::default(),
            side(base.cases.into_iter().map(twice).collect()),
            side(head.cases.into_iter().map(twice).collect()),
            0.0,
        );
        assert!(!max_drop_rule(&exact).ok);
        assert_eq!(max_drop_rule(&exact).decided.unwrap().by, DecidedBy::Data);
    }

    #[test]
    fn a_large_drop_is_blocked_in_the_first_round_and_the_power_is_reported() {
        let base = one_trial(200, |i| i % 20 == 0);
        let head = one_trial(200, |i| i % 20 == 0 || i % 4 == 1);
        let report = at(Look { round: 1, max: 3 }, base, head, 0.05);
        assert!(!report.inconclusive);
        let rule = max_drop_rule(&report);
        assert!(
            !rule.ok && rule.decided.unwrap().by == DecidedBy::Data,
            "{rule:?}"
        );
        assert_eq!(
            report.power.as_deref(),
            Some("with 200 cases this suite can see drops of 7 points or more (80% power)")
        );
    }

    #[test]
    fn a_metric_drop_must_be_told_from_noise_and_never_asks_for_a_round() {
        let with_metric = |mean: f64, count: u64| {
            let mut side = one_trial(10, |_| false);
            side.metrics
                .insert("accuracy".into(), MetricValue { mean, count });
            side
        };
        let judge = |count: u64| {
            judge_surface(SurfaceInput {
                look: Look { round: 1, max: 3 },
                ..input(
                    Some(with_metric(0.9, count)),
                    with_metric(0.8, count),
                    Thresholds {
                        min_pass_rate: None,
                        max_drop: None,
                        metrics: vec![MetricRule {
                            name: "accuracy".into(),
                            min: None,
                            max: None,
                            max_drop: Some(0.0),
                        }],
                        ..thresholds()
                    },
                )
            })
        };
        let rule = |report: &SurfaceReport| {
            report
                .rules
                .iter()
                .find(|r| r.rule.to_string() == "metric:accuracy:max_drop")
                .cloned()
                .unwrap()
        };
        // Ten scores a side: a 10-point drop is what identical sides could show.
        let few = judge(10);
        assert!(!few.inconclusive && rule(&few).ok, "{:?}", rule(&few));
        // A thousand: it is not.
        let many = judge(1000);
        assert!(!many.inconclusive && !rule(&many).ok, "{:?}", rule(&many));
    }

    /// `n` cases whose one metric scored `score` on each of `trials` trials.
    fn scored(n: usize, score: impl Fn(usize) -> f64, trials: u32) -> SideResult {
        let mut side = one_trial(n, |_| false);
        for (i, case) in side.cases.iter_mut().enumerate() {
            let s = score(i);
            let r = f64::from(trials);
            case.metrics.insert(
                "accuracy".into(),
                crate::eval::run::MetricScores {
                    sum: s * r,
                    sum_sq: s * s * r,
                    trials,
                },
            );
        }
        side
    }

    #[test]
    fn metric_rules_are_judged_under_noise_and_ask_for_rounds() {
        let rules = Thresholds {
            min_pass_rate: None,
            max_drop: None,
            metrics: vec![MetricRule {
                name: "accuracy".into(),
                min: Some(0.85),
                max: None,
                max_drop: Some(0.02),
            }],
            ..thresholds()
        };
        let judge = |trials: u32, round: u32| {
            judge_surface(SurfaceInput {
                look: Look { round, max: 3 },
                ..input(
                    Some(scored(
                        100,
                        |i| if i % 10 == 0 { 0.5 } else { 0.95 },
                        trials,
                    )),
                    scored(100, |i| if i % 10 == 0 { 0.4 } else { 0.95 }, trials),
                    rules.clone(),
                )
            })
        };
        let rule = |report: &SurfaceReport, name: &str| {
            report
                .rules
                .iter()
                .find(|r| r.rule.to_string() == name)
                .cloned()
                .unwrap()
        };
        // One trial each: scores near the bar cannot be told from noise yet.
        let first = judge(1, 1);
        assert!(first.inconclusive, "{:?}", first.rules);
        // Two identical trials: no noise; the mean 0.905 holds `min`, and the 1-point drop
        // holds `max_drop`, both by the data.
        let second = judge(2, 2);
        assert!(!second.inconclusive);
        for name in ["metric:accuracy:min", "metric:accuracy:max_drop"] {
            let r = rule(&second, name);
            assert!(r.ok && r.decided.unwrap().by == DecidedBy::Data, "{r:?}");
        }
        assert!((rule(&second, "metric:accuracy:max_drop").value.unwrap() - 0.01).abs() < 1e-12);
    }
}
