//! The terminal format: a compact list of changed prompt files and their surfaces, then
//! each file's diff, coloured on a terminal (changed words highlighted) and plain in logs.
//! Every string that comes from the repository, a case or a model is printed through
//! [`esc`]: a control character in it cannot start a line of its own (a GitHub Actions
//! `::` workflow command in the log) or drive the terminal. Colour stays hand-written
//! (`Style::paint`, eight lines, one SGR sequence per styled piece, e.g. `\x1b[31;7m` for
//! a changed word in a removed line): `anstyle` writes one sequence per attribute
//! (`\x1b[7m\x1b[31m`), which changes bytes `tests/snapshots.rs` asserts and buys nothing
//! here; whether to colour at all is the caller's (`Style::color`).

use std::fmt::Write;

use super::textdiff::{LineTag, TextChange};
use super::{body, escape_controls, status_word, Body};
use crate::changeset::{ChangeSet, PromptChange};
use crate::git::Status;

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// `text` with its control characters escaped (see [`escape_controls`]).
fn esc(text: &str) -> String {
    escape_controls(text).into_owned()
}

const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const CYAN: &str = "36";
const BOLD: &str = "1";
const DIM: &str = "2";

/// Renders the change set for a terminal or a log.
pub fn change_set(set: &ChangeSet, style: Style) -> String {
    let mut out = String::new();
    let files = set.changes.len();
    let _ = writeln!(
        out,
        "{} {files} prompt file{} changed, {} surface{} affected",
        style.paint(BOLD, "promptgate diff:"),
        plural(files),
        set.surfaces.len(),
        plural(set.surfaces.len()),
    );
    let _ = writeln!(
        out,
        "  base {}  merge base {}  head {}",
        esc(&revision(&set.base_label, set.base)),
        revision("", set.merge_base).trim(),
        esc(&revision(&set.head_label, set.head))
    );
    if set.changes.is_empty() {
        return out;
    }
    out.push('\n');
    let width = set
        .changes
        .iter()
        .map(|c| name(c).chars().count())
        .max()
        .unwrap_or(0);
    for change in &set.changes {
        let letter = match change.status {
            Status::Added => style.paint(GREEN, "A"),
            Status::Modified => style.paint(YELLOW, "M"),
            Status::Deleted => style.paint(RED, "D"),
            Status::Renamed => style.paint(CYAN, "R"),
        };
        let surfaces = if change.surfaces.is_empty() {
            style.paint(DIM, "(no surface settings changed)")
        } else {
            esc(&change.surfaces.join(", "))
        };
        let _ = writeln!(out, "  {letter}  {:width$}  {surfaces}", name(change));
    }
    let _ = writeln!(
        out,
        "\nsurfaces: {}",
        if set.surfaces.is_empty() {
            "none".to_string()
        } else {
            esc(&set.surfaces.join(", "))
        }
    );
    for change in &set.changes {
        out.push('\n');
        file_diff(&mut out, change, style);
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn revision(label: &str, oid: Option<git2::Oid>) -> String {
    match oid {
        Some(oid) if label.is_empty() => crate::git::short(oid),
        Some(oid) => format!("{label} ({})", crate::git::short(oid)),
        None if label.is_empty() => "none".into(),
        None => label.to_string(),
    }
}

/// The file's name in the list: its path, the old path for renames, and why it is listed;
/// control characters escaped.
fn name(change: &PromptChange) -> String {
    esc(&raw_name(change))
}

fn raw_name(change: &PromptChange) -> String {
    let mut name = match &change.old_path {
        Some(old) => format!("{old} → {}", change.path),
        None => change.path.clone(),
    };
    if let Some(s) = change.similarity {
        let _ = write!(name, " ({s}%)");
    }
    name.push_str(super::via_label(change.via));
    let kind = crate::report::json::kind_word(change.kind());
    if kind != "text" {
        let _ = write!(name, " [{kind}]");
    }
    name
}

fn file_diff(out: &mut String, change: &PromptChange, style: Style) {
    let title = format!("── {} ── {}", esc(&change.path), status_word(change));
    let _ = writeln!(out, "{}", style.paint(BOLD, &title));
    for line in super::case_lines(change) {
        let _ = writeln!(out, "   {line}");
    }
    match body(change) {
        Body::Note(note) => {
            let _ = writeln!(out, "   {}", style.paint(DIM, &esc(&note)));
        }
        Body::Text(diff) => text_change(out, &diff, style),
    }
}

fn text_change(out: &mut String, diff: &TextChange, style: Style) {
    if let Some(eol) = &diff.line_endings {
        let _ = writeln!(
            out,
            "   {}",
            style.paint(DIM, &format!("line endings changed: {eol}"))
        );
    }
    for hunk in &diff.hunks {
        let _ = writeln!(out, "{}", style.paint(CYAN, &hunk.header()));
        for line in &hunk.lines {
            let (sign, color) = match line.tag {
                LineTag::Context => (" ", ""),
                LineTag::Removed => ("-", RED),
                LineTag::Added => ("+", GREEN),
            };
            if !style.color || color.is_empty() {
                let _ = writeln!(out, "{sign}{}", esc(&line.text()));
                continue;
            }
            let mut drawn = style.paint(color, sign);
            for (emphasized, segment) in &line.segments {
                let code = if *emphasized {
                    format!("{color};7")
                } else {
                    color.to_string()
                };
                drawn.push_str(&style.paint(&code, &esc(segment)));
            }
            let _ = writeln!(out, "{drawn}");
        }
    }
}

/// Renders an eval run: per surface the pass rate, counts, metrics, cost, tokens and
/// latency, then the cases that failed or could not run.
pub fn eval_run(result: &crate::eval::run::RunResult, rev: &str, style: Style) -> String {
    use crate::eval::run::CaseStatus;
    let mut out = String::new();
    let cases: usize = result.surfaces.iter().map(|s| s.cases).sum();
    let spent = result
        .spent_usd
        .map_or("unknown cost".to_string(), |c| format!("${c:.4} spent"));
    let _ = writeln!(
        out,
        "{} {} surface{}, {cases} case{} at {}: {} call{}, {} cached, {spent}",
        style.paint(BOLD, "promptgate eval:"),
        result.surfaces.len(),
        plural(result.surfaces.len()),
        plural(cases),
        esc(rev),
        result.calls,
        plural(result.calls as usize),
        result.cache_hits,
    );
    for surface in &result.surfaces {
        let _ = writeln!(
            out,
            "\n{}  via {}",
            style.paint(BOLD, &esc(&surface.name)),
            esc(&surface.provider)
        );
        let _ = writeln!(
            out,
            "  pass rate {:.1}% ({}/{})  failed {}  errors {}  flaky {}",
            surface.pass_rate * 100.0,
            surface.passed,
            surface.cases,
            surface.failed,
            surface.errors,
            surface.flaky
        );
        for (name, metric) in &surface.metrics {
            let _ = writeln!(
                out,
                "  metric {}: {:.3} (n={})",
                esc(name),
                metric.mean,
                metric.count
            );
        }
        let cost = surface
            .cost_usd
            .map_or("unknown".to_string(), |c| format!("${c:.4}"));
        let _ = writeln!(
            out,
            "  cost {cost}  tokens {} in / {} out  latency p50 {} ms  p95 {} ms",
            surface.input_tokens,
            surface.output_tokens,
            surface.latency_ms.p50,
            surface.latency_ms.p95
        );
        for (status, label, color) in [
            (CaseStatus::Fail, "failed", RED),
            (CaseStatus::Error, "error", YELLOW),
        ] {
            for case in surface.case_summaries.iter().filter(|c| c.status == status) {
                let reason = esc(case.reason.as_deref().unwrap_or(""));
                let _ = writeln!(
                    out,
                    "  {} {}  {reason}",
                    style.paint(color, label),
                    esc(&case.id)
                );
            }
        }
        if !surface.complete {
            let _ = writeln!(
                out,
                "  {}",
                style.paint(
                    RED,
                    &format!(
                        "incomplete: {} case(s) could not be run or graded; results fail closed",
                        surface.errors
                    )
                )
            );
        }
    }
    out
}

/// The gate's verdict for a terminal: the verdict, one line per surface with its failed
/// rules, artifacts, approvals and the reasons.
pub fn verdict(report: &crate::gate::Report, style: Style) -> String {
    use crate::gate::Verdict;
    let mut out = String::new();
    let (word, color) = match report.verdict {
        Verdict::Pass => ("PASS", GREEN),
        Verdict::NeedsSignoff => ("NEEDS SIGN-OFF", YELLOW),
        Verdict::Blocked => ("BLOCKED", RED),
        Verdict::Error => ("ERROR", RED),
    };
    let short = |sha: &Option<String>| {
        sha.as_deref().map_or("(not resolved)".to_string(), |s| {
            esc(&s.chars().take(7).collect::<String>())
        })
    };
    // When nothing was resolved (the gate stopped before it had a base or a head), the
    // header says nothing about them rather than `base ? → head ?`.
    let range = if report.merge_base.is_none() && report.head.is_none() {
        String::new()
    } else {
        format!(
            "  base {} → head {}",
            short(&report.merge_base),
            short(&report.head)
        )
    };
    let _ = writeln!(
        out,
        "{} {} (tier {}){range}",
        style.paint(BOLD, "promptgate check:"),
        style.paint(&format!("{BOLD};{color}"), word),
        report.tier.as_str(),
    );
    for s in &report.surfaces {
        let rate = |stats: &Option<crate::gate::model::SideStats>| {
            stats.as_ref().map_or("—".to_string(), |st| {
                format!("{:.1}%", st.pass_rate * 100.0)
            })
        };
        let p = s
            .mcnemar_p
            .map(|p| format!("  p={p:.4}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {} → {}{p}  {} regression(s), {} fix(es), {} flaky",
            style.paint(BOLD, &esc(&s.name)),
            rate(&s.base),
            rate(&s.head),
            s.regressions.len(),
            s.fixes.len(),
            s.flaky.len()
        );
        if let Some(line) = super::noise_line(s) {
            let _ = writeln!(out, "    {}", style.paint(DIM, &esc(&line)));
        }
        // The flips by case id (at most ten each, then how many more).
        for (label, flips, color) in [
            ("regressions", &s.regressions, RED),
            ("fixes", &s.fixes, GREEN),
        ] {
            if flips.is_empty() {
                continue;
            }
            let mut ids: Vec<String> = flips.iter().take(10).map(|f| esc(&f.id)).collect();
            if flips.len() > 10 {
                ids.push(format!("and {} more", flips.len() - 10));
            }
            let _ = writeln!(out, "    {}: {}", style.paint(color, label), ids.join(", "));
        }
        for rule in s.rules.iter().filter(|r| !r.ok) {
            let _ = writeln!(
                out,
                "    {} {}",
                style.paint(RED, "✗"),
                esc(&rule.describe())
            );
        }
    }
    for artifact in &report.artifacts {
        let mark = if artifact.found {
            style.paint(GREEN, "✓")
        } else {
            style.paint(RED, "✗")
        };
        let detail = artifact
            .source
            .as_deref()
            .or(artifact.reason.as_deref())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "  artifact {} {mark} {}",
            esc(&artifact.name),
            esc(detail)
        );
    }
    if report.approvals.missing > 0 {
        let _ = writeln!(
            out,
            "  approvals: {} needed from {}",
            report.approvals.missing,
            esc(&report.approvals.approvers.join(", "))
        );
    }
    if !report.reasons.is_empty() {
        let _ = writeln!(out, "reasons:");
        for reason in &report.reasons {
            let _ = writeln!(out, "  - {}", esc(reason));
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note: {}", esc(note));
    }
    out
}
