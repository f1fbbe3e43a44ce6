//! One surface's weeks from the ledger: the headline point per week, the trend, the tail and
//! the stealth call-out, drift between records with no change to the surface, and this
//! week's regression flags traced to the commit they started with.

use std::collections::BTreeSet;

use super::{
    Commit, Direction, Drift, Flag, Headline, Lab, Point, Since, SurfaceReview, Tail, Trend,
};
use crate::config::Config;
use crate::error::Result;
use crate::gate::sequential::normal_cdf;
use crate::ledger::{Entry, EntryKind};

/// What the config says about reviewing one surface.
pub(super) struct Settings {
    pub headline: String,
    pub tail_drop: f64,
    pub average_hold: f64,
    pub significance: f64,
}

impl Settings {
    pub fn of(config: &Config, surface: &str) -> Settings {
        Settings {
            headline: config
                .surface_named(surface)
                .and_then(|s| s.headline.clone())
                .unwrap_or_else(|| "pass_rate".into()),
            tail_drop: config.review.tail_drop,
            average_hold: config.review.average_hold,
            significance: *config.gate.significance.get_ref(),
        }
    }
}

/// A week's record: the commit (index into the history) and its entry.
#[derive(Clone, Copy)]
struct Record<'a> {
    at: usize,
    entry: &'a Entry,
}

/// Rounding slack for comparisons against configured fractions.
const EPSILON: f64 = 1e-9;

pub(super) fn surface(
    name: &str,
    settings: &Settings,
    weeks: &[String],
    this_week: &str,
    commits: &[Commit],
    lab: &mut dyn Lab,
) -> Result<SurfaceReview> {
    let records = weekly(name, weeks.len(), commits);
    let points: Vec<Option<Point>> = records
        .iter()
        .map(|r| r.and_then(|r| point(r, &settings.headline, weeks, commits)))
        .collect();
    let trend = trend(&points);
    let tail = Tail {
        points: records
            .iter()
            .map(|r| r.and_then(|r| r.entry.tail_pass_rate))
            .collect(),
        stealth: stealth(&records, settings),
    };
    let drift = drift(name, &records, weeks, commits, settings.significance, lab)?;
    let regressions = regressions(name, &records, commits, lab)?;
    let records_this_week = commits
        .iter()
        .flat_map(|c| &c.entries)
        .filter(|e| e.kind == EntryKind::Eval && e.surface == name)
        .filter(|e| recorded_week(e).as_deref() == Some(this_week))
        .count();
    Ok(SurfaceReview {
        name: name.to_string(),
        headline: Headline {
            metric: settings.headline.clone(),
            points,
        },
        trend,
        regressions,
        tail,
        drift,
        records_this_week,
    })
}

/// Per week, the latest record of the surface: the newest first-parent commit of the week
/// with an `eval` entry for it, and of that commit's entries the last recorded.
fn weekly<'a>(name: &str, weeks: usize, commits: &'a [Commit]) -> Vec<Option<Record<'a>>> {
    let mut records: Vec<Option<Record<'a>>> = vec![None; weeks];
    for (at, commit) in commits.iter().enumerate() {
        if records[commit.week].is_some() {
            continue;
        }
        records[commit.week] =
            latest(commit, name, EntryKind::Eval).map(|entry| Record { at, entry });
    }
    records
}

/// The last-recorded entry of `kind` for `surface` on a commit.
fn latest<'a>(commit: &'a Commit, surface: &str, kind: EntryKind) -> Option<&'a Entry> {
    commit
        .entries
        .iter()
        .filter(|e| e.kind == kind && e.surface == surface)
        .max_by(|a, b| a.recorded_at.cmp(&b.recorded_at))
}

fn point(record: Record<'_>, metric: &str, weeks: &[String], commits: &[Commit]) -> Option<Point> {
    let e = record.entry;
    let (value, ci_low, ci_high) = if metric == "pass_rate" {
        (e.pass_rate, Some(e.ci_low), Some(e.ci_high))
    } else {
        (*e.metrics.get(metric)?, None, None)
    };
    Some(Point {
        week: weeks[commits[record.at].week].clone(),
        commit: e.commit.clone(),
        value,
        ci_low,
        ci_high,
        cases: e.cases,
        passed: e.passed,
        model: e.model.clone(),
        model_reported: e.model_reported.clone(),
    })
}

/// Weighted least squares of the headline on the week number. A pass rate's weight is its
/// binomial precision (from the recorded interval), so the test asks whether the weeks move
/// more than their sampling noise; a metric without an interval uses the residual scatter.
fn trend(points: &[Option<Point>]) -> Trend {
    let present: Vec<(f64, &Point)> = points
        .iter()
        .enumerate()
        .filter_map(|(x, p)| Some((x as f64, p.as_ref()?)))
        .collect();
    let change = match (present.first(), present.last()) {
        (Some(first), Some(last)) if present.len() > 1 => Some(last.1.value - first.1.value),
        _ => None,
    };
    let mut trend = Trend {
        direction: Direction::TooFewPoints,
        slope_per_week: None,
        p_value: None,
        significant: false,
        change,
        points: present.len(),
    };
    if present.len() < 3 {
        return trend;
    }
    let known = present.iter().all(|(_, p)| p.ci_low.is_some());
    let weight = |p: &Point| match (p.ci_low, p.ci_high) {
        (Some(low), Some(high)) if known => {
            let se = ((high - low) / (2.0 * 1.959_964)).max(1e-6);
            1.0 / (se * se)
        }
        _ => 1.0,
    };
    let total: f64 = present.iter().map(|(_, p)| weight(p)).sum();
    let mean_x = present.iter().map(|(x, p)| weight(p) * x).sum::<f64>() / total;
    let mean_y = present
        .iter()
        .map(|(_, p)| weight(p) * p.value)
        .sum::<f64>()
        / total;
    let sxx: f64 = present
        .iter()
        .map(|(x, p)| weight(p) * (x - mean_x).powi(2))
        .sum();
    let sxy: f64 = present
        .iter()
        .map(|(x, p)| weight(p) * (x - mean_x) * (p.value - mean_y))
        .sum();
    if sxx <= 0.0 || !sxy.is_finite() {
        return trend;
    }
    let slope = sxy / sxx;
    let variance = if known {
        1.0 / sxx
    } else {
        let residuals: f64 = present
            .iter()
            .map(|(x, p)| (p.value - mean_y - slope * (x - mean_x)).powi(2))
            .sum();
        residuals / (present.len() as f64 - 2.0) / sxx
    };
    let p_value = if variance > 0.0 {
        two_sided(slope / variance.sqrt())
    } else if slope == 0.0 {
        1.0
    } else {
        0.0
    };
    trend.slope_per_week = Some(slope);
    trend.p_value = Some(p_value);
    trend.significant = p_value < 0.05;
    trend.direction = match (trend.significant, slope > 0.0) {
        (false, _) => Direction::Flat,
        (true, true) => Direction::Up,
        (true, false) => Direction::Down,
    };
    trend
}

fn two_sided(z: f64) -> f64 {
    (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0)
}

/// This week's record and the one before it, when both exist.
fn last_two<'a>(records: &[Option<Record<'a>>]) -> Option<(Record<'a>, Record<'a>)> {
    let (current, earlier) = records.split_last()?;
    let current = (*current)?;
    let previous = earlier.iter().rev().find_map(|r| *r)?;
    Some((previous, current))
}

/// The tail fell by `tail_drop` or more since the previous record while the average moved
/// less than `average_hold`.
fn stealth(records: &[Option<Record<'_>>], settings: &Settings) -> bool {
    let Some((previous, current)) = last_two(records) else {
        return false;
    };
    let (Some(before), Some(now)) = (previous.entry.tail_pass_rate, current.entry.tail_pass_rate)
    else {
        return false;
    };
    before - now >= settings.tail_drop - EPSILON
        && (current.entry.pass_rate - previous.entry.pass_rate).abs() < settings.average_hold
}

/// Significant pass-rate moves between consecutive records with no change to the surface
/// on the first-parent commits between them.
fn drift(
    name: &str,
    records: &[Option<Record<'_>>],
    weeks: &[String],
    commits: &[Commit],
    significance: f64,
    lab: &mut dyn Lab,
) -> Result<Vec<Drift>> {
    let present: Vec<Record<'_>> = records.iter().filter_map(|r| *r).collect();
    let mut drift = Vec::new();
    for pair in present.windows(2) {
        let (before, after) = (pair[0].entry, pair[1].entry);
        let p_value = two_proportions(before, after);
        if p_value >= significance
            || before.suite != after.suite
            || before.prompt != after.prompt
            || before.model != after.model
        {
            continue;
        }
        // Commits after the earlier record, up to and including the later one.
        if touched_between(name, commits, pair[1].at, pair[0].at, lab)?
            .next()
            .is_some()
        {
            continue;
        }
        drift.push(Drift {
            from_week: weeks[commits[pair[0].at].week].clone(),
            to_week: weeks[commits[pair[1].at].week].clone(),
            from: before.pass_rate,
            to: after.pass_rate,
            p_value,
            model_reported: (before.model_reported.clone(), after.model_reported.clone()),
        });
    }
    Ok(drift)
}

/// Two-sided pooled two-proportion z-test of two records' pass rates.
fn two_proportions(a: &Entry, b: &Entry) -> f64 {
    let (n1, n2) = (a.cases as f64, b.cases as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return 1.0;
    }
    // In floating point: a forged count cannot overflow.
    let pooled = (a.passed as f64 + b.passed as f64) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return 1.0;
    }
    two_sided((b.pass_rate - a.pass_rate) / se)
}

/// The commits in `commits[newer..older]` (newest-first indices: after the older record up
/// to and including the newer one) whose first-parent change touched the surface, oldest
/// first.
fn touched_between<'c>(
    name: &str,
    commits: &'c [Commit],
    newer: usize,
    older: usize,
    lab: &mut dyn Lab,
) -> Result<impl Iterator<Item = &'c Commit>> {
    let mut touched = Vec::new();
    for commit in commits[newer..older].iter().rev() {
        if lab.touches(commit.oid, name)? {
            touched.push(commit);
        }
    }
    Ok(touched.into_iter())
}

/// Cases failing in this week's record that passed in the previous record, each traced to
/// the first commit between them (oldest first) that touched the surface and fails it.
fn regressions(
    name: &str,
    records: &[Option<Record<'_>>],
    commits: &[Commit],
    lab: &mut dyn Lab,
) -> Result<Vec<Flag>> {
    let Some((previous, current)) = last_two(records) else {
        return Ok(Vec::new());
    };
    if commits[current.at].week == commits[previous.at].week {
        return Ok(Vec::new());
    }
    let failed_before: BTreeSet<&str> = previous.entry.failed.iter().map(String::as_str).collect();
    let existed = if previous.entry.suite == current.entry.suite {
        None
    } else {
        lab.case_ids(commits[previous.at].oid, name)?
    };
    let mut candidates: Vec<&str> = current
        .entry
        .failed
        .iter()
        .map(String::as_str)
        .filter(|id| !failed_before.contains(id))
        .filter(|id| existed.as_ref().is_none_or(|ids| ids.contains(*id)))
        .collect();
    candidates.sort_by(|a, b| crate::util::text::natural_cmp(a, b));
    let mut open = candidates.clone();
    let mut since: Vec<(String, Since)> = Vec::new();
    let touched: Vec<&Commit> =
        touched_between(name, commits, current.at, previous.at, lab)?.collect();
    for commit in touched {
        if open.is_empty() {
            break;
        }
        let failing: BTreeSet<String> = match latest(commit, name, EntryKind::Eval)
            .or_else(|| latest(commit, name, EntryKind::Gate))
        {
            Some(entry) => entry.failed.iter().cloned().collect(),
            None => match lab.failing(commit.oid, name)? {
                Some(failing) => failing,
                // Unmeasurable: what started here cannot be told from what started later.
                None => break,
            },
        };
        let started = Since {
            commit: commit.oid.to_string(),
            pr: crate::git::pr::from_message(&commit.message),
            title: crate::git::pr::title(&commit.message),
        };
        open.retain(|id| {
            let here = failing.contains(*id);
            if here {
                since.push((id.to_string(), started.clone()));
            }
            !here
        });
    }
    let flaky: BTreeSet<&str> = current.entry.flaky.iter().map(String::as_str).collect();
    let flags = candidates
        .into_iter()
        .map(|id| Flag {
            case: id.to_string(),
            since: since
                .iter()
                .find(|(case, _)| case == id)
                .map(|(_, s)| s.clone()),
            passed_in: previous.entry.commit.clone(),
            flaky: flaky.contains(id),
        })
        .collect();
    Ok(flags)
}

/// The ISO week an entry was recorded in.
fn recorded_week(entry: &Entry) -> Option<String> {
    let seconds = crate::util::time::unix_time(&entry.recorded_at)?;
    Some(crate::util::time::iso_week(seconds.div_euclid(86_400)))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use git2::Oid;

    use super::*;
    use crate::ledger::SCHEMA_VERSION;

    /// A lab that knows which commits touched the surface and what fails where.
    #[derive(Default)]
    struct FakeLab {
        touched: BTreeSet<Oid>,
        failing: BTreeMap<Oid, Option<BTreeSet<String>>>,
        case_ids: Option<BTreeSet<String>>,
        evaluated: Vec<Oid>,
    }

    impl Lab for FakeLab {
        fn config(&mut self, _tip: Oid) -> Result<Config> {
            unreachable!("the analysis is given its settings")
        }
        fn touches(&mut self, commit: Oid, _surface: &str) -> Result<bool> {
            Ok(self.touched.contains(&commit))
        }
        fn case_ids(&mut self, _commit: Oid, _surface: &str) -> Result<Option<BTreeSet<String>>> {
            Ok(self.case_ids.clone())
        }
        fn failing(&mut self, commit: Oid, _surface: &str) -> Result<Option<BTreeSet<String>>> {
            self.evaluated.push(commit);
            Ok(self.failing.get(&commit).cloned().flatten())
        }
    }

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("oid")
    }

    fn entry(commit: Oid, passed: usize, failed: &[&str]) -> Entry {
        let interval = crate::gate::statistics::wilson(passed as u64, 100);
        Entry {
            schema_version: SCHEMA_VERSION,
            run_id: "r".into(),
            kind: EntryKind::Eval,
            recorded_at: "2026-12-01T10:00:00Z".into(),
            commit: commit.to_string(),
            surface: "s".into(),
            provider: "main".into(),
            model: "m".into(),
            model_reported: None,
            cases: 100,
            passed,
            pass_rate: passed as f64 / 100.0,
            ci_low: interval.low,
            ci_high: interval.high,
            tail_pass_rate: Some(1.0),
            metrics: BTreeMap::from([("score".to_string(), passed as f64 / 10.0)]),
            cost_usd: None,
            latency_ms: Default::default(),
            failed: failed.iter().map(|s| s.to_string()).collect(),
            flaky: Vec::new(),
            suite: "suite".into(),
            prompt: "prompt".into(),
            gate: None,
            experiment: None,
        }
    }

    fn commit(n: u8, week: usize, entries: Vec<Entry>) -> Commit {
        Commit {
            oid: oid(n),
            week,
            message: format!("Change {n} (#{n})"),
            entries,
        }
    }

    fn weeks(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("2026-W{:02}", 40 + i)).collect()
    }

    fn settings(headline: &str) -> Settings {
        Settings {
            headline: headline.into(),
            tail_drop: 0.10,
            average_hold: 0.05,
            significance: 0.05,
        }
    }

    fn run(commits: &[Commit], n: usize, lab: &mut FakeLab, headline: &str) -> SurfaceReview {
        let weeks = weeks(n);
        surface(
            "s",
            &settings(headline),
            &weeks,
            &weeks[n - 1],
            commits,
            lab,
        )
        .expect("review")
    }

    #[test]
    fn a_flag_is_traced_to_the_first_touching_commit_that_fails_it() {
        // Newest first: this week's record (5), an untouched commit (4), a touching commit
        // without a record (3, fails a), a touching commit with a gate entry (2, fails a
        // and b), last week's record (1).
        let mut gate = entry(oid(2), 98, &["a", "b"]);
        gate.kind = EntryKind::Gate;
        let commits = vec![
            commit(5, 1, vec![entry(oid(5), 97, &["a", "b", "c"])]),
            commit(4, 1, vec![]),
            commit(3, 1, vec![]),
            commit(2, 1, vec![gate]),
            commit(1, 0, vec![entry(oid(1), 99, &["c"])]),
        ];
        let mut lab = FakeLab {
            touched: [oid(2), oid(3)].into(),
            ..FakeLab::default()
        };
        let review = run(&commits, 2, &mut lab, "pass_rate");
        let flags: Vec<(&str, Option<String>)> = review
            .regressions
            .iter()
            .map(|f| (f.case.as_str(), f.since.as_ref().map(|s| s.commit.clone())))
            .collect();
        // c failed last week too: not a regression. Both a and b started at 2, the oldest
        // touching commit, read from its gate entry: nothing was evaluated.
        assert_eq!(
            flags,
            [
                ("a", Some(oid(2).to_string())),
                ("b", Some(oid(2).to_string()))
            ]
        );
        assert_eq!(
            review.regressions[0].since.as_ref().and_then(|s| s.pr),
            Some(2)
        );
        assert!(lab.evaluated.is_empty());
    }

    #[test]
    fn commits_without_a_record_are_evaluated_and_an_unmeasurable_one_stops_the_trace() {
        let commits = vec![
            commit(4, 1, vec![entry(oid(4), 98, &["a", "b"])]),
            commit(3, 1, vec![]),
            commit(2, 1, vec![]),
            commit(1, 0, vec![entry(oid(1), 100, &[])]),
        ];
        let mut lab = FakeLab {
            touched: [oid(2), oid(3)].into(),
            failing: BTreeMap::from([(oid(2), Some(["a".to_string()].into())), (oid(3), None)]),
            ..FakeLab::default()
        };
        let review = run(&commits, 2, &mut lab, "pass_rate");
        assert_eq!(lab.evaluated, [oid(2), oid(3)]);
        let since: Vec<Option<String>> = review
            .regressions
            .iter()
            .map(|f| f.since.as_ref().map(|s| s.commit.clone()))
            .collect();
        assert_eq!(since, [Some(oid(2).to_string()), None]);
    }

    #[test]
    fn a_case_the_previous_suite_did_not_have_is_not_a_regression() {
        let mut now = entry(oid(2), 98, &["old", "new"]);
        now.suite = "suite v2".into();
        let commits = vec![
            commit(2, 1, vec![now]),
            commit(1, 0, vec![entry(oid(1), 100, &[])]),
        ];
        let mut lab = FakeLab {
            touched: [oid(2)].into(),
            case_ids: Some(["old".to_string()].into()),
            ..FakeLab::default()
        };
        let review = run(&commits, 2, &mut lab, "pass_rate");
        let cases: Vec<&str> = review.regressions.iter().map(|f| f.case.as_str()).collect();
        assert_eq!(cases, ["old"]);
    }

    #[test]
    fn drift_is_a_significant_move_with_no_change_and_a_change_is_not_drift() {
        let mut before = entry(oid(1), 95, &[]);
        before.model_reported = Some("m-2026-01".into());
        let mut after = entry(oid(3), 80, &[]);
        after.model_reported = Some("m-2026-06".into());
        let commits = vec![
            commit(3, 2, vec![after]),
            commit(2, 1, vec![]),
            commit(1, 0, vec![before]),
        ];
        let review = run(&commits, 3, &mut FakeLab::default(), "pass_rate");
        assert_eq!(review.drift.len(), 1);
        let drift = &review.drift[0];
        assert_eq!(
            (drift.from_week.as_str(), drift.to_week.as_str()),
            ("2026-W40", "2026-W42")
        );
        assert!(drift.p_value < 0.01, "{}", drift.p_value);
        assert_eq!(drift.model_reported.1.as_deref(), Some("m-2026-06"));
        // The week between has no record: null, not interpolated.
        assert!(review.headline.points[1].is_none());

        let mut lab = FakeLab {
            touched: [oid(2)].into(),
            ..FakeLab::default()
        };
        assert!(run(&commits, 3, &mut lab, "pass_rate").drift.is_empty());
    }

    #[test]
    fn the_stealth_call_out_needs_the_tail_down_and_the_average_held() {
        let tail = |n: u8, week, passed, tail| {
            let mut e = entry(oid(n), passed, &[]);
            e.tail_pass_rate = Some(tail);
            commit(n, week, vec![e])
        };
        let stealth = |commits: &[Commit]| {
            run(commits, 2, &mut FakeLab::default(), "pass_rate")
                .tail
                .stealth
        };
        assert!(stealth(&[tail(2, 1, 96, 0.6), tail(1, 0, 100, 1.0)]));
        // Exactly the configured drop counts.
        assert!(stealth(&[tail(2, 1, 100, 0.9), tail(1, 0, 100, 1.0)]));
        assert!(!stealth(&[tail(2, 1, 90, 0.6), tail(1, 0, 100, 1.0)]));
        assert!(!stealth(&[tail(2, 1, 100, 0.95), tail(1, 0, 100, 1.0)]));
        assert!(!stealth(&[tail(1, 0, 100, 1.0)]));
    }

    #[test]
    fn the_trend_is_significant_only_beyond_sampling_noise() {
        let series = |values: &[usize]| -> Vec<Commit> {
            values
                .iter()
                .enumerate()
                .rev()
                .map(|(week, &passed)| {
                    commit(
                        week as u8 + 1,
                        week,
                        vec![entry(oid(week as u8 + 1), passed, &[])],
                    )
                })
                .collect()
        };
        let falling = run(
            &series(&[99, 97, 95, 93, 91, 89, 87, 85]),
            8,
            &mut FakeLab::default(),
            "pass_rate",
        );
        assert_eq!(falling.trend.direction, Direction::Down);
        assert!(falling
            .trend
            .slope_per_week
            .is_some_and(|s| (s + 0.02).abs() < 0.005));
        let steady = run(
            &series(&[90, 92, 89, 91, 90, 92, 90, 91]),
            8,
            &mut FakeLab::default(),
            "pass_rate",
        );
        assert_eq!(steady.trend.direction, Direction::Flat);
        let short = run(&series(&[90, 80]), 2, &mut FakeLab::default(), "pass_rate");
        assert_eq!(short.trend.direction, Direction::TooFewPoints);
        assert_eq!(short.trend.change.map(|c| (c * 100.0).round()), Some(-10.0));
        // A metric headline has no interval: the residual scatter decides.
        let metric = run(
            &series(&[99, 97, 95, 93, 91, 89, 87, 85]),
            8,
            &mut FakeLab::default(),
            "score",
        );
        assert_eq!(
            metric.headline.points[0].as_ref().map(|p| p.value),
            Some(9.9)
        );
        assert!(metric.headline.points[0]
            .as_ref()
            .is_some_and(|p| p.ci_low.is_none()));
        assert_eq!(metric.trend.direction, Direction::Down);
        // A metric the records lack is a gap, not a zero.
        let missing = run(&series(&[90, 91]), 2, &mut FakeLab::default(), "nope");
        assert!(missing.headline.points.iter().all(Option::is_none));
    }
}
