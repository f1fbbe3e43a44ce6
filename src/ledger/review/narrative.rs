//! The words the Monday meeting ends with, written from the numbers alone: up to two
//! incidents to investigate (regression flags first, then drift, a stealth tail, a
//! significant decline), up to two suggested experiments (a surface that moved with no
//! change → `compare` against a candidate provider; a stealth tail → more hard cases), and
//! a one-paragraph summary. Same numbers, same words: nothing here calls a model.

use super::{Direction, Experiment, Incident, IncidentKind, SurfaceReview};
use crate::config::Config;

/// At most this many incidents and experiments.
const MOST: usize = 2;

/// A headline value as people read it: a pass rate in percent, a metric as a number.
pub(super) fn show(metric: &str, value: f64) -> String {
    if metric == "pass_rate" {
        format!("{:.1}%", value * 100.0)
    } else {
        format!("{value:.3}")
    }
}

/// A fraction in percent.
pub(super) fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// The short form of a commit id.
pub(super) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

pub(super) fn incidents(surfaces: &[SurfaceReview]) -> Vec<Incident> {
    let mut found = Vec::new();
    let mut by_flags: Vec<&SurfaceReview> = surfaces
        .iter()
        .filter(|s| !s.regressions.is_empty())
        .collect();
    by_flags.sort_by_key(|s| std::cmp::Reverse(s.regressions.len()));
    for s in by_flags {
        let cases: Vec<&str> = s.regressions.iter().map(|f| f.case.as_str()).collect();
        let mut text = format!(
            "{}: {} case(s) fail this week that passed in the previous record ({})",
            s.name,
            cases.len(),
            list(&cases)
        );
        let mut sources: Vec<String> = Vec::new();
        for flag in &s.regressions {
            let source = match &flag.since {
                Some(since) => match since.pr {
                    Some(pr) => format!("#{pr} ({}, {})", since.title, short(&since.commit)),
                    None => format!("{} ({})", short(&since.commit), since.title),
                },
                None => "no change to the surface (drift?)".to_string(),
            };
            if !sources.contains(&source) {
                sources.push(source);
            }
        }
        text.push_str(&format!("; started with {}", sources.join(" and ")));
        found.push(Incident {
            surface: s.name.clone(),
            kind: IncidentKind::Regression,
            text,
        });
    }
    for s in surfaces {
        for d in &s.drift {
            let models = match &d.model_reported {
                (Some(a), Some(b)) if a != b => format!("; the answers named {a}, then {b}"),
                _ => String::new(),
            };
            found.push(Incident {
                surface: s.name.clone(),
                kind: IncidentKind::Drift,
                text: format!(
                    "{}: pass rate moved from {} ({}) to {} ({}) with no change to the surface (p = {:.3}){models}",
                    s.name,
                    percent(d.from),
                    d.from_week,
                    percent(d.to),
                    d.to_week,
                    d.p_value
                ),
            });
        }
    }
    for s in surfaces.iter().filter(|s| s.tail.stealth) {
        let known: Vec<f64> = s.tail.points.iter().flatten().copied().collect();
        let (before, now) = match known.as_slice() {
            [.., before, now] => (*before, *now),
            _ => continue,
        };
        found.push(Incident {
            surface: s.name.clone(),
            kind: IncidentKind::Stealth,
            text: format!(
                "{}: the tail (hardest 10% of cases) fell from {} to {} while the average held: a stealth problem",
                s.name,
                percent(before),
                percent(now)
            ),
        });
    }
    for s in surfaces
        .iter()
        .filter(|s| s.trend.direction == Direction::Down)
    {
        found.push(Incident {
            surface: s.name.clone(),
            kind: IncidentKind::Decline,
            text: format!(
                "{}: {} is declining {} per week over {} recorded weeks (p = {:.3})",
                s.name,
                s.headline.metric,
                show(
                    &s.headline.metric,
                    s.trend.slope_per_week.unwrap_or(0.0).abs()
                ),
                s.trend.points,
                s.trend.p_value.unwrap_or(1.0)
            ),
        });
    }
    found.truncate(MOST);
    found
}

pub(super) fn experiments(surfaces: &[SurfaceReview], config: &Config) -> Vec<Experiment> {
    let mut found = Vec::new();
    for s in surfaces {
        let moved_alone = !s.drift.is_empty()
            || (s.trend.direction == Direction::Down
                && s.regressions.iter().all(|f| f.since.is_none()));
        if moved_alone {
            let current = config
                .surface_named(&s.name)
                .and_then(|c| c.provider.as_ref())
                .map(|p| p.get_ref().clone());
            let candidate = config
                .provider
                .keys()
                .find(|name| Some(*name) != current.as_ref());
            let (text, command) = match candidate {
                Some(candidate) => (
                    format!(
                        "{}: it moved with no change to the surface; compare it on `{candidate}`, same cases",
                        s.name
                    ),
                    Some(format!(
                        "promptgate compare --surface {} --provider {candidate} --log \"{} moved with no prompt change\"",
                        s.name, s.name
                    )),
                ),
                None => (
                    format!(
                        "{}: it moved with no change to the surface; declare a candidate model as a `[provider.NAME]` and compare the surface on it",
                        s.name
                    ),
                    None,
                ),
            };
            found.push(Experiment {
                surface: s.name.clone(),
                text,
                command,
            });
        }
    }
    for s in surfaces.iter().filter(|s| s.tail.stealth) {
        found.push(Experiment {
            surface: s.name.clone(),
            text: format!(
                "{}: the tail degrades while the average holds; add hard cases (with a `difficulty`) like the ones failing now, so the tail is measured on more than a handful",
                s.name
            ),
            command: None,
        });
    }
    found.truncate(MOST);
    found
}

pub(super) fn summary(
    weeks: &[String],
    surfaces: &[SurfaceReview],
    incidents: &[Incident],
) -> String {
    let span = match (weeks.first(), weeks.last()) {
        (Some(first), Some(last)) if first != last => format!("{first} to {last}"),
        (Some(only), _) => only.clone(),
        _ => String::new(),
    };
    let mut text = format!(
        "{} surface(s) over {} week(s) ({span}).",
        surfaces.len(),
        weeks.len()
    );
    let mut states = Vec::new();
    for s in surfaces {
        let now = s.headline.points.last().and_then(|p| p.as_ref());
        let state = match now {
            Some(point) => format!(
                "{} {} ({})",
                s.name,
                show(&s.headline.metric, point.value),
                direction(s.trend.direction)
            ),
            None => format!("{} no record", s.name),
        };
        states.push(state);
    }
    if !states.is_empty() {
        text.push_str(&format!(" This week: {}.", states.join("; ")));
    }
    let flags: usize = surfaces.iter().map(|s| s.regressions.len()).sum();
    let drifting = names(surfaces, |s| !s.drift.is_empty());
    let stealth = names(surfaces, |s| s.tail.stealth);
    let mut findings = Vec::new();
    if flags > 0 {
        findings.push(format!(
            "{flags} regression flag(s) on {}",
            names(surfaces, |s| !s.regressions.is_empty())
        ));
    }
    if !drifting.is_empty() {
        findings.push(format!("drift on {drifting}"));
    }
    if !stealth.is_empty() {
        findings.push(format!("a stealth tail on {stealth}"));
    }
    if findings.is_empty() {
        text.push_str(" No regression flags, drift or stealth tail this week.");
    } else {
        text.push_str(&format!(" {}.", capitalize(&findings.join(", "))));
    }
    if let Some(first) = incidents.first() {
        text.push_str(&format!(" First to investigate: {}.", first.text));
    }
    text
}

fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "trending up",
        Direction::Down => "trending down",
        Direction::Flat => "no significant trend",
        Direction::TooFewPoints => "too few weeks for a trend",
    }
}

fn names(surfaces: &[SurfaceReview], keep: impl Fn(&SurfaceReview) -> bool) -> String {
    surfaces
        .iter()
        .filter(|s| keep(s))
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// At most five ids, then how many more.
fn list(ids: &[&str]) -> String {
    match ids.len() {
        0..=5 => ids.join(", "),
        n => format!("{}, and {} more", ids[..5].join(", "), n - 5),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
