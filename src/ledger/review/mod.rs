//! `review`: the Monday eval review, read from the ledger. Per surface, one headline point
//! per UTC ISO week (the week's latest record on the first-parent history, `null` for a
//! week without one) with its interval and trend; this week's regression flags, each traced
//! to the first-parent commit (and pull request) where the case started failing; the tail
//! per week and the stealth call-out; drift between weeks with no change to the surface;
//! then up to two incidents, up to two suggested experiments and a summary. Everything is
//! computed from the numbers: no model call, nothing invented.

mod analyze;
pub mod lab;
mod narrative;
pub mod render;

use std::collections::BTreeMap;

use git2::Oid;
use serde::Serialize;

use super::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::git::Repo;
pub use lab::{Lab, RepoLab};

/// What to review.
#[derive(Debug, Clone)]
pub struct ReviewRequest {
    /// The revision whose first-parent history is reviewed (the default branch's tip).
    pub rev: String,
    /// How many ISO weeks, this one included.
    pub weeks: u32,
    /// Only these surfaces (empty: every gated surface).
    pub surfaces: Vec<String>,
    /// Today's day number since 1970-01-01 (UTC): the week the review ends with.
    pub today: i64,
}

/// The review: what `--format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    /// The ISO weeks reviewed, oldest first (`2026-W49`).
    pub weeks: Vec<String>,
    pub surfaces: Vec<SurfaceReview>,
    pub incidents: Vec<Incident>,
    pub suggested_experiments: Vec<Experiment>,
    pub summary: String,
    /// Ledger lines skipped on the way, each naming its commit.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// One surface's weeks.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceReview {
    pub name: String,
    pub headline: Headline,
    pub trend: Trend,
    pub regressions: Vec<Flag>,
    pub tail: Tail,
    pub drift: Vec<Drift>,
    /// The surface's `eval` entries recorded this week.
    pub records_this_week: usize,
}

/// The headline metric, one point per week (`None`: no record that week).
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    /// `pass_rate` or a metric's name.
    pub metric: String,
    pub points: Vec<Option<Point>>,
}

/// A week's headline: its latest record.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub week: String,
    pub commit: String,
    pub value: f64,
    /// The 95% interval (pass rates only; a metric's mean has none recorded).
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub cases: usize,
    pub passed: usize,
    pub model: String,
    pub model_reported: Option<String>,
}

/// Where the headline is heading: a weighted least-squares slope over the weeks with a
/// record, tested against no change.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub direction: Direction,
    /// Change per week, in the headline's unit (`None` with fewer than 3 points).
    pub slope_per_week: Option<f64>,
    pub p_value: Option<f64>,
    pub significant: bool,
    /// Last point minus first point.
    pub change: Option<f64>,
    /// Weeks with a record.
    pub points: usize,
}

/// A trend's direction: `flat` unless the slope is significant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Up,
    Down,
    Flat,
    /// Fewer than three weeks with a record.
    TooFewPoints,
}

/// A case failing in this week's latest record that passed in the previous record.
#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub case: String,
    /// The first-parent commit where it started failing; `None` when no change to the
    /// surface explains it (see `drift`) or that commit could not be measured.
    pub since: Option<Since>,
    /// The record it still passed in.
    pub passed_in: String,
    /// Whether its trials disagreed this week.
    pub flaky: bool,
}

/// The change a regression started with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Since {
    pub commit: String,
    /// From GitHub's merge or squash message.
    pub pr: Option<u64>,
    /// The commit message's title.
    pub title: String,
}

/// The tail (hardest 10% by difficulty) per week.
#[derive(Debug, Clone, Serialize)]
pub struct Tail {
    pub points: Vec<Option<f64>>,
    /// The tail fell by `[review] tail_drop` or more since the previous record while the
    /// average moved less than `[review] average_hold`.
    pub stealth: bool,
}

/// A significant move between two records with no change to the surface between them.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub from_week: String,
    pub to_week: String,
    pub from: f64,
    pub to: f64,
    pub p_value: f64,
    /// The models the answers named on each side, when they named one.
    pub model_reported: (Option<String>, Option<String>),
}

/// Something to investigate this week.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub surface: String,
    pub kind: IncidentKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    Regression,
    Drift,
    Stealth,
    Decline,
}

/// An experiment worth running this week.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub surface: String,
    pub text: String,
    /// The command that starts it, when there is one.
    pub command: Option<String>,
}

/// One first-parent commit of the window, with its ledger entries.
pub(crate) struct Commit {
    pub oid: Oid,
    pub week: usize,
    pub message: String,
    pub entries: Vec<Entry>,
}

/// Reviews the ledger over `request.weeks` weeks of `request.rev`'s first-parent history.
pub fn review(repo: &Repo, request: &ReviewRequest, lab: &mut dyn Lab) -> Result<Review> {
    let tip = repo.resolve(&request.rev)?;
    let config = lab.config(tip)?;
    let names = select(&config, &request.surfaces)?;
    let weeks: Vec<String> = (0..i64::from(request.weeks.max(1)))
        .rev()
        .map(|back| crate::util::time::iso_week(request.today - 7 * back))
        .collect();
    let (commits, warnings) = history(repo, tip, &weeks, request.today)?;
    let this_week = weeks.last().cloned().unwrap_or_default();
    let mut surfaces = Vec::new();
    for name in names {
        let settings = analyze::Settings::of(&config, &name);
        surfaces.push(analyze::surface(
            &name, &settings, &weeks, &this_week, &commits, lab,
        )?);
    }
    let incidents = narrative::incidents(&surfaces);
    let suggested_experiments = narrative::experiments(&surfaces, &config);
    let summary = narrative::summary(&weeks, &surfaces, &incidents);
    Ok(Review {
        weeks,
        surfaces,
        incidents,
        suggested_experiments,
        summary,
        warnings,
    })
}

/// Writes `review.json`, `review.md` and one SVG chart per surface (`review-NAME.svg`, the
/// name kept to letters, digits, `-`, `_` and `.`) into `dir`; returns the files written.
pub fn write_outputs(dir: &std::path::Path, review: &Review) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut written = Vec::new();
    let mut write = |name: String, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
        written.push(path);
        Ok::<(), Error>(())
    };
    write("review.json".into(), &render::json(review))?;
    write("review.md".into(), &render::markdown(review))?;
    for surface in &review.surfaces {
        let svg = render::svg(review, surface)
            .map_err(|e| Error::io("draw", "the review chart", std::io::Error::other(e)))?;
        let name: String = surface
            .name
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
                _ => '_',
            })
            .collect();
        write(format!("review-{name}.svg"), &svg)?;
    }
    Ok(written)
}

/// Opens or updates this week's review issue, with a task-list item per regression flag.
pub fn post(
    session: &crate::github::Session,
    review: &Review,
) -> Result<crate::github::issue::PostedIssue> {
    let week = review.weeks.last().map_or("", String::as_str);
    crate::github::issue::upsert_issue(
        session,
        &render::marker(week),
        &render::issue_title(review),
        &render::issue_body(review),
    )
    .map_err(Error::from)
}

/// The named surfaces (each must exist), or every gated one.
fn select(config: &crate::config::Config, wanted: &[String]) -> Result<Vec<String>> {
    let all: Vec<String> = config
        .surface
        .iter()
        .map(|s| s.get_ref())
        .filter(|s| s.gate)
        .map(|s| s.name.get_ref().clone())
        .collect();
    if wanted.is_empty() {
        return Ok(all);
    }
    for name in wanted {
        if !all.contains(name) {
            return Err(Error::usage(format!(
                "--surface `{name}` is not a gated surface of the config (it has: {})",
                all.join(", ")
            )));
        }
    }
    Ok(wanted.to_vec())
}

/// The first-parent commits from `tip` back to the oldest week, newest first, with their
/// ledger entries (eval and gate) and the index of their week.
fn history(
    repo: &Repo,
    tip: Oid,
    weeks: &[String],
    today: i64,
) -> Result<(Vec<Commit>, Vec<String>)> {
    // A little slack: first-parent dates are not strictly ordered.
    let oldest_day = today - 7 * weeks.len() as i64 - 7;
    let index: BTreeMap<&str, usize> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let mut commits = Vec::new();
    let mut warnings = Vec::new();
    for step in super::history::first_parents(repo, tip, "the review")? {
        let super::history::Step { oid, commit, time } = step?;
        let day = time.div_euclid(86_400);
        if day < oldest_day {
            break;
        }
        let Some(&week) = index.get(crate::util::time::iso_week(day).as_str()) else {
            continue;
        };
        let read = super::read(repo.raw(), oid)?;
        warnings.extend(read.warnings);
        commits.push(Commit {
            oid,
            week,
            message: commit.message().unwrap_or_default().to_string(),
            entries: read
                .entries
                .into_iter()
                .filter(|e| e.kind != EntryKind::Experiment)
                .collect(),
        });
    }
    Ok((commits, warnings))
}
