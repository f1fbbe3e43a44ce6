//! One surface judged: pass rates with Wilson intervals on each side, the flips between them
//! (regressions and fixes by case id, flaky cases apart, cases on one side only listed), the
//! paired McNemar test, the tail of the hardest cases, named metrics, and every configured
//! rule with its value, threshold and outcome. A rule that cannot be measured fails and says
//! why; none is skipped silently.

use std::collections::HashMap;

use super::model::{
    AgainstBaseSuite, Flip, MetricBound, MetricStats, RuleId, RuleResult, SideCost, SideLatency,
    SidePair, SideResult, SideSettings, SideStats, SurfaceChange, SurfaceInput, SurfaceReport,
    TailStats, Thresholds,
};
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
    let mut notes = Vec::new();
    let rules = if input.gated && input.change != SurfaceChange::Removed {
        rules(
            &input,
            &base_stats,
            &head_stats,
            &flips,
            mcnemar_p,
            &tail_stats,
            &metrics,
        )
    } else {
        Vec::new()
    };
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
    base: &Option<SideStats>,
    head: &Option<SideStats>,
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
    let head_rate = head.as_ref().map(|h| h.pass_rate);
    if let Some(min) = t.min_pass_rate {
        rules.push(at_least(
            RuleId::MinPassRate,
            head_rate,
            min,
            "the head has no results",
        ));
    }
    if let Some(max) = t.max_drop {
        let drop = base
            .as_ref()
            .zip(head.as_ref())
            .map(|(b, h)| b.pass_rate - h.pass_rate);
        rules.push(match drop {
            Some(drop) => RuleResult {
                rule: RuleId::MaxDrop,
                value: Some(drop),
                threshold: Some(max),
                ok: drop <= max + EPSILON,
                note: None,
            },
            None => RuleResult {
                rule: RuleId::MaxDrop,
                value: None,
                threshold: Some(max),
                ok: input.change == SurfaceChange::Added,
                note: Some(no_base.into()),
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
        },
        None => RuleResult {
            rule: RuleId::Mcnemar,
            value: None,
            threshold: Some(t.significance),
            ok: input.change == SurfaceChange::Added,
            note: Some(no_base.into()),
        },
    });
    if let Some(min) = t.tail_min_pass_rate {
        rules.push(match tail {
            Some(tail) => at_least(RuleId::TailMinPassRate, Some(tail.head_pass_rate), min, ""),
            None => RuleResult {
                rule: RuleId::TailMinPassRate,
                value: None,
                threshold: Some(min),
                ok: false,
                note: Some("cannot be measured: no case has a `difficulty`; add difficulties to the cases or remove the rule".into()),
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
        if let Some(min) = rule.min {
            rules.push(at_least(
                metric(MetricBound::Min),
                head_mean,
                min,
                &unmeasured,
            ));
        }
        if let Some(max) = rule.max {
            rules.push(match head_mean {
                Some(v) => RuleResult {
                    rule: metric(MetricBound::Max),
                    value: Some(v),
                    threshold: Some(max),
                    ok: v <= max + EPSILON,
                    note: None,
                },
                None => RuleResult {
                    rule: metric(MetricBound::Max),
                    value: None,
                    threshold: Some(max),
                    ok: false,
                    note: Some(unmeasured.clone()),
                },
            });
        }
        if let Some(max_drop) = rule.max_drop {
            let drop = stats.and_then(|s| s.base.zip(s.head)).map(|(b, h)| b - h);
            rules.push(match drop {
                Some(drop) => RuleResult {
                    rule: metric(MetricBound::MaxDrop),
                    value: Some(drop),
                    threshold: Some(max_drop),
                    ok: drop <= max_drop + EPSILON,
                    note: None,
                },
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
        },
        None => RuleResult {
            rule,
            value: None,
            threshold: Some(min),
            ok: false,
            note: Some(unmeasured.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::eval::run::Latency;
    use crate::gate::model::MetricRule;

    fn case(id: &str, status: CaseStatus, flaky: bool, difficulty: Option<f64>) -> CaseSummary {
        CaseSummary {
            id: id.into(),
            status,
            flaky,
            passed_trials: 0,
            trials: 1,
            difficulty,
            reason: None,
            output: Some(format!("{id} output")),
        }
    }

    fn side(cases: Vec<CaseSummary>) -> SideResult {
        SideResult {
            complete: true,
            cases,
            metrics: BTreeMap::new(),
            cost_usd: Some(0.0),
            latency_ms: Latency::default(),
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

    #[test]
    fn min_pass_rate_and_max_drop() {
        let base = side(vec![
            case("a", Pass, false, None),
            case("b", Pass, false, None),
        ]);
        let head = side(vec![
            case("a", Pass, false, None),
            case("b", Fail, false, None),
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
}
