//! `changelog`: the Friday "what changed in production". Every change merged on the
//! default branch's first-parent history in a window that touched a surface, oldest first:
//! its pull request and title (from GitHub's merge and squash messages, else asked of the
//! API through [`PullLookup`] when one is given), surfaces, tier,
//! verdict, approvals, and per surface the pass rate, model, cost and p95 latency base →
//! head with the regressions and fixes, and the change record's impact and rollback texts.
//! The facts come from the ledger's `gate` entries, or from gating the change (cache first)
//! where the ledger has none; the two give the same answer. Then the week's insights: the
//! biggest eval mover and the largest cost or latency change, stated with numbers. The
//! person-written parts of the update are left as empty headings: nothing is invented.

use std::rc::Rc;

use git2::Oid;
use serde::Serialize;

use super::history::{Step, Touch, Touched};
use super::record::{gate_entries, RecordRequest};
use super::{Entry, EntryKind};
use crate::config::Tier;
use crate::error::{Error, Result};
use crate::gate::Verdict;
use crate::git::Repo;

/// One end of the window: a UTC date, a number of days back from now, or a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// Unix seconds.
    Time(i64),
    Rev(String),
}

impl Bound {
    /// `YYYY-MM-DD` (the start of that UTC day, or with `end` its end), `Nd` (N days before
    /// `now`), or anything else as a revision.
    pub fn parse(text: &str, now: i64, end: bool) -> Bound {
        let text = text.trim();
        if let Some(days) = text
            .strip_suffix('d')
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| (0..=36_600).contains(n))
        {
            return Bound::Time(now - days * 86_400);
        }
        if let Some(day) = crate::util::time::day_of_date(text) {
            return Bound::Time(day * 86_400 + if end { 86_399 } else { 0 });
        }
        Bound::Rev(text.to_string())
    }
}

/// What to list.
#[derive(Debug, Clone)]
pub struct ChangelogRequest {
    /// The tip of the default branch.
    pub rev: String,
    /// Changes merged after this (exclusive for a revision).
    pub since: Bound,
    /// Changes merged up to this (inclusive).
    pub until: Bound,
    /// How `gate_entries` runs where the ledger has none.
    pub record: RecordRequest,
    /// Asked for the pull request of a change whose message names none.
    pub pulls: Option<Rc<dyn PullLookup>>,
}

/// Where the pull request of a commit whose message names none is looked up (GitHub's API).
pub trait PullLookup {
    /// The merged pull request `sha` came from (number and title), or why it could not be
    /// asked.
    fn pull_of(&self, sha: &str) -> std::result::Result<Option<(u64, String)>, String>;
}

impl std::fmt::Debug for dyn PullLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PullLookup")
    }
}

impl PullLookup for crate::github::Session {
    fn pull_of(&self, sha: &str) -> std::result::Result<Option<(u64, String)>, String> {
        crate::github::commits::pull_of_commit(self, sha).map_err(|e| e.to_string())
    }
}

/// The changelog: what `--format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Changelog {
    pub since: String,
    pub until: String,
    pub changes: Vec<Change>,
    pub insights: Insights,
    /// Changes that could not be gated, with why (they are listed without figures).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// One merged change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub commit: String,
    /// The commit's committer time, UTC.
    pub merged_at: String,
    pub pr: Option<u64>,
    pub title: String,
    pub surfaces: Vec<String>,
    /// The gate's facts; `None` when the change could not be gated.
    pub tier: Option<Tier>,
    pub verdict: Option<Verdict>,
    pub approved_by: Vec<String>,
    /// Per surface: pass rate, model, cost and latency base → head, and the flips.
    pub details: Vec<SurfaceDelta>,
    pub impact: Option<String>,
    pub rollback: Option<String>,
    /// Where the facts came from: `ledger` or `computed`.
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Ledger,
    Computed,
    /// Neither: the gate could not run on it (see the warnings).
    None,
}

/// A value on each side of a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseHead<T> {
    pub base: Option<T>,
    pub head: Option<T>,
}

/// One surface of a change.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceDelta {
    pub surface: String,
    pub pass_rate: BaseHead<f64>,
    pub regressions: Vec<String>,
    pub fixes: Vec<String>,
    pub model: BaseHead<String>,
    pub cost_usd: BaseHead<f64>,
    pub latency_p95_ms: BaseHead<u64>,
}

/// The week's numbers worth a sentence each (`None`: nothing to say).
#[derive(Debug, Clone, Serialize)]
pub struct Insights {
    pub eval: Option<String>,
    pub cost_latency: Option<String>,
}

/// Lists the changes merged in the window, oldest first.
pub fn changelog(repo: &Repo, request: &ChangelogRequest) -> Result<Changelog> {
    let tip = repo.resolve(&request.rev)?;
    let since = resolve(repo, &request.since)?;
    let until = resolve(repo, &request.until)?;
    let mut touched = Touched::new(repo, &request.record.config_path);
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    for (oid, time) in window(repo, tip, &since, &until)? {
        let surfaces = match touched.of(oid)? {
            Touch::Surfaces(surfaces) if surfaces.is_empty() => continue,
            Touch::Surfaces(surfaces) => surfaces.iter().cloned().collect::<Vec<_>>(),
            Touch::Unknown => {
                warnings.push(format!(
                    "{}: its config does not load, so the surfaces it touched are unknown; not listed",
                    crate::git::short(oid)
                ));
                continue;
            }
        };
        changes.push(change(repo, request, oid, time, surfaces, &mut warnings)?);
    }
    changes.reverse();
    let insights = insights(&changes);
    Ok(Changelog {
        since: label(&since),
        until: label(&until),
        changes,
        insights,
        warnings,
    })
}

/// A bound with its revision resolved.
enum Resolved {
    Time(i64),
    Commit(Oid),
}

fn resolve(repo: &Repo, bound: &Bound) -> Result<Resolved> {
    Ok(match bound {
        Bound::Time(t) => Resolved::Time(*t),
        Bound::Rev(rev) => Resolved::Commit(repo.resolve(rev)?),
    })
}

fn label(bound: &Resolved) -> String {
    match bound {
        Resolved::Time(t) => crate::util::time::rfc3339(*t),
        Resolved::Commit(oid) => oid.to_string(),
    }
}

/// The first-parent commits from `tip` inside the window, newest first, with their times.
fn window(repo: &Repo, tip: Oid, since: &Resolved, until: &Resolved) -> Result<Vec<(Oid, i64)>> {
    // Before `until` is reached (by revision), nothing is listed.
    let mut started = !matches!(until, Resolved::Commit(_));
    let mut picked = Vec::new();
    for step in super::history::first_parents(repo, tip, "the changelog")? {
        let Step { oid, time, .. } = step?;
        match since {
            Resolved::Commit(stop) if *stop == oid => break,
            // First-parent dates run backwards but not strictly: a day of slack.
            Resolved::Time(t) if time < t - 86_400 => break,
            Resolved::Time(t) if time < *t => continue,
            _ => {}
        }
        match until {
            Resolved::Commit(end) if *end == oid => started = true,
            Resolved::Time(t) if time > *t => continue,
            _ => {}
        }
        if started {
            picked.push((oid, time));
        }
    }
    Ok(picked)
}

/// One change: the ledger's gate entries on the commit, else the gate run now.
fn change(
    repo: &Repo,
    request: &ChangelogRequest,
    oid: Oid,
    time: i64,
    surfaces: Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Change> {
    let message = repo
        .raw()
        .find_commit(oid)
        .ok()
        .and_then(|c| c.message().ok().map(String::from))
        .unwrap_or_default();
    let mut read = super::read(repo.raw(), oid)?;
    warnings.append(&mut read.warnings);
    let mut gates = latest_gates(read.entries, oid);
    let mut source = Source::Ledger;
    if gates.is_empty() {
        let record = RecordRequest {
            rev: oid.to_string(),
            ..request.record.clone()
        };
        match gate_entries(repo, &record) {
            Ok(recorded) => {
                warnings.extend(recorded.incomplete);
                gates = latest_gates(recorded.entries, oid);
                source = Source::Computed;
            }
            Err(error @ (Error::Invalid(_) | Error::Usage { .. })) => {
                warnings.push(format!("{}: not gated: {error}", crate::git::short(oid)))
            }
            Err(error) => return Err(error),
        }
        if gates.is_empty() {
            source = Source::None;
        }
    }
    let facts = gates.iter().find_map(|e| e.gate.as_ref());
    let mut pr = crate::git::pr::from_message(&message);
    let mut title = crate::git::pr::title(&message);
    if let (None, Some(pulls)) = (pr, &request.pulls) {
        match pulls.pull_of(&oid.to_string()) {
            Ok(Some((number, name))) => {
                pr = Some(number);
                if !name.trim().is_empty() {
                    title = name;
                }
            }
            Ok(None) => {}
            Err(error) => warnings.push(format!(
                "{}: its pull request could not be asked of GitHub, so it is listed without one: {error}",
                crate::git::short(oid)
            )),
        }
    }
    Ok(Change {
        commit: oid.to_string(),
        merged_at: crate::util::time::rfc3339(time),
        pr,
        title,
        surfaces,
        tier: facts.map(|f| f.tier),
        verdict: facts.map(|f| f.verdict),
        approved_by: facts.map(|f| f.approved_by.clone()).unwrap_or_default(),
        details: gates.iter().map(delta).collect(),
        impact: facts.and_then(|f| f.impact.clone()),
        rollback: facts.and_then(|f| f.rollback.clone()),
        source,
    })
}

/// Per surface, the last-recorded gate entry of the change `oid` made, by surface name.
fn latest_gates(entries: Vec<Entry>, oid: Oid) -> Vec<Entry> {
    let head = oid.to_string();
    let mut latest: Vec<Entry> = Vec::new();
    for entry in entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::Gate && e.gate.as_ref().is_some_and(|g| g.head == head))
    {
        match latest.iter_mut().find(|e| e.surface == entry.surface) {
            Some(kept) if kept.recorded_at < entry.recorded_at => *kept = entry,
            Some(_) => {}
            None => latest.push(entry),
        }
    }
    latest.sort_by(|a, b| a.surface.cmp(&b.surface));
    latest
}

fn delta(entry: &Entry) -> SurfaceDelta {
    let facts = entry.gate.as_ref();
    let base = facts.and_then(|f| f.base_side.as_ref());
    SurfaceDelta {
        surface: entry.surface.clone(),
        pass_rate: BaseHead {
            base: base.map(|b| b.pass_rate),
            head: Some(entry.pass_rate),
        },
        regressions: facts.map(|f| f.regressions.clone()).unwrap_or_default(),
        fixes: facts.map(|f| f.fixes.clone()).unwrap_or_default(),
        model: BaseHead {
            base: base.map(|b| b.model.clone()),
            head: Some(entry.model.clone()),
        },
        cost_usd: BaseHead {
            base: base.and_then(|b| b.cost_usd),
            head: entry.cost_usd,
        },
        latency_p95_ms: BaseHead {
            base: base.map(|b| b.latency_ms.p95),
            head: Some(entry.latency_ms.p95),
        },
    }
}

/// The biggest pass-rate mover and the largest relative cost or p95 latency change.
fn insights(changes: &[Change]) -> Insights {
    let name = |c: &Change| match c.pr {
        Some(pr) => format!("#{pr} {}", c.title),
        None => format!("{} {}", &c.commit[..c.commit.len().min(7)], c.title),
    };
    let mut eval: Option<(f64, String)> = None;
    let mut cost_latency: Option<(f64, String)> = None;
    for change in changes {
        for d in &change.details {
            if let (Some(base), Some(head)) = (d.pass_rate.base, d.pass_rate.head) {
                let moved = head - base;
                if moved != 0.0 && eval.as_ref().is_none_or(|(m, _)| moved.abs() > m.abs()) {
                    eval = Some((
                        moved,
                        format!(
                            "{}: pass rate {:.1}% → {:.1}% ({:+.1} points) with {}",
                            d.surface,
                            base * 100.0,
                            head * 100.0,
                            moved * 100.0,
                            name(change)
                        ),
                    ));
                }
            }
            let relative = |base: f64, head: f64| (base > 0.0).then(|| head / base - 1.0);
            let mut consider = |change_ratio: Option<f64>, text: String| {
                if let Some(r) = change_ratio.filter(|r| *r != 0.0) {
                    if cost_latency.as_ref().is_none_or(|(m, _)| r.abs() > m.abs()) {
                        cost_latency = Some((r, text));
                    }
                }
            };
            if let (Some(base), Some(head)) = (d.cost_usd.base, d.cost_usd.head) {
                consider(
                    relative(base, head),
                    format!(
                        "{}: cost {} → {} ({:+.0}%) with {}",
                        d.surface,
                        dollars(base),
                        dollars(head),
                        relative(base, head).unwrap_or(0.0) * 100.0,
                        name(change)
                    ),
                );
            }
            if let (Some(base), Some(head)) = (d.latency_p95_ms.base, d.latency_p95_ms.head) {
                consider(
                    relative(base as f64, head as f64),
                    format!(
                        "{}: p95 latency {base} ms → {head} ms ({:+.0}%) with {}",
                        d.surface,
                        relative(base as f64, head as f64).unwrap_or(0.0) * 100.0,
                        name(change)
                    ),
                );
            }
        }
    }
    Insights {
        eval: eval.map(|(_, text)| text),
        cost_latency: cost_latency.map(|(_, text)| text),
    }
}

/// Dollars with the digits a small figure needs ($12.30, $0.0450, $0.000120).
fn dollars(value: f64) -> String {
    match value.abs() {
        v if v >= 1.0 => format!("${value:.2}"),
        v if v >= 0.01 => format!("${value:.4}"),
        _ => format!("${value:.6}"),
    }
}

/// The changelog as Markdown, ready to paste into the Friday update: the changes with their
/// numbers, the insights, and the headings a person fills in left empty.
pub fn markdown(log: &Changelog) -> String {
    use crate::report::markdown::{code, html};
    use std::fmt::Write as _;
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    let mut out = format!(
        "# What changed in production ({} → {})\n\n",
        day(&log.since),
        day(&log.until)
    );
    if log.changes.is_empty() {
        out.push_str("No merged change touched a surface.\n\n");
    }
    let percent = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{:.1}%", v * 100.0));
    for c in &log.changes {
        // A title is the pull request's author's: its brackets cannot make a link.
        let title = html(&c.title).replace('[', "&#91;").replace(']', "&#93;");
        let heading = match c.pr {
            Some(pr) => format!("#{pr} {title}"),
            None => title,
        };
        let _ = writeln!(
            out,
            "## {heading}\n\nMerged {} as {} · surfaces {} · tier {} · verdict {}{}\n",
            day(&c.merged_at),
            code(&c.commit[..c.commit.len().min(7)]),
            c.surfaces
                .iter()
                .map(|s| code(s))
                .collect::<Vec<_>>()
                .join(", "),
            c.tier.map_or("—", |t| t.as_str()),
            c.verdict.map_or("not gated", |v| v.as_str()),
            if c.approved_by.is_empty() {
                String::new()
            } else {
                format!(" · approved by {}", html(&c.approved_by.join(", ")))
            }
        );
        if !c.details.is_empty() {
            out.push_str("| surface | pass rate | regressions | fixes | model | cost | p95 latency |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        }
        for d in &c.details {
            let ids = |ids: &[String]| {
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.iter().map(|i| code(i)).collect::<Vec<_>>().join(", ")
                }
            };
            let model = match (&d.model.base, &d.model.head) {
                (Some(b), Some(h)) if b != h => format!("{} → {}", code(b), code(h)),
                (_, Some(h)) => code(h),
                _ => "—".into(),
            };
            let cost = match (d.cost_usd.base, d.cost_usd.head) {
                (Some(b), Some(h)) => format!("{} → {}", dollars(b), dollars(h)),
                (None, Some(h)) => dollars(h),
                _ => "—".into(),
            };
            let latency = match (d.latency_p95_ms.base, d.latency_p95_ms.head) {
                (Some(b), Some(h)) => format!("{b} ms → {h} ms"),
                (None, Some(h)) => format!("{h} ms"),
                _ => "—".into(),
            };
            // Pipes split a table cell even inside a code span: a case id with one would
            // add cells of its own (a live link outside any span).
            let cell = |text: String| text.replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} | {} → {} | {} | {} | {} | {cost} | {latency} |",
                cell(code(&d.surface)),
                percent(d.pass_rate.base),
                percent(d.pass_rate.head),
                cell(ids(&d.regressions)),
                cell(ids(&d.fixes)),
                cell(model)
            );
        }
        if !c.details.is_empty() {
            out.push('\n');
        }
        for (name, text) in [
            ("Expected user impact", &c.impact),
            ("Rollback plan", &c.rollback),
        ] {
            match text {
                Some(text) => {
                    let _ = writeln!(out, "**{name}:** {}\n", html(text.trim()));
                }
                None => {
                    let _ = writeln!(out, "**{name}:** not written\n");
                }
            }
        }
    }
    out.push_str("## What we learned from data\n\n");
    let _ = writeln!(
        out,
        "- Eval: {}\n- Cost or latency: {}\n- User insight: \n",
        log.insights
            .eval
            .as_deref()
            .map_or("no pass rate moved".into(), html),
        log.insights
            .cost_latency
            .as_deref()
            .map_or("no cost or latency figure changed".into(), html)
    );
    out.push_str("## What changed in the world\n\n## What we're doing next week\n");
    out
}
