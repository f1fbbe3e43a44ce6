//! Drill records: `.promptgate/drills/<YYYY-MM-DD>-<surface>.md`, one per drill, written by
//! `promptgate drill` for the team to commit, and read back to tell when each surface was
//! last drilled and whether that is overdue.

use std::fmt::Write;

use super::{DrillReport, Outcome};
use crate::git::{GitError, Snapshot};
use crate::util::time::day_of_date;

/// Where drill records live.
pub const DIR: &str = ".promptgate/drills";

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub surface: String,
    pub date: String,
    pub outcome: Outcome,
    pub path: String,
}

/// Every readable drill record in a snapshot.
pub fn list(snapshot: &dyn Snapshot) -> Result<Vec<Record>, GitError> {
    let mut paths = Vec::new();
    snapshot.walk(DIR, &mut |path, _| paths.push(path.to_string()))?;
    let mut records = Vec::new();
    for path in paths {
        if let Some(text) = snapshot.read_text(&path)? {
            records.extend(parse(&path, &text));
        }
    }
    records.sort_by(|a, b| a.date.cmp(&b.date));
    Ok(records)
}

fn parse(path: &str, text: &str) -> Option<Record> {
    let name = path.rsplit('/').next()?.strip_suffix(".md")?;
    let (date, surface) = (name.get(..10)?, name.get(11..)?);
    day_of_date(date)?;
    let outcome = text.lines().find_map(|line| {
        let value = line
            .trim()
            .trim_start_matches(['-', '*', ' '])
            .strip_prefix("Outcome:")?;
        Some(
            if value.trim().trim_matches('*').eq_ignore_ascii_case("pass") {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
        )
    })?;
    Some(Record {
        surface: surface.to_string(),
        date: date.to_string(),
        outcome,
        path: path.to_string(),
    })
}

/// The latest record of a surface, and the latest passing one.
pub fn latest<'r>(
    records: &'r [Record],
    surface: &str,
) -> (Option<&'r Record>, Option<&'r Record>) {
    let mine: Vec<&Record> = records.iter().filter(|r| r.surface == surface).collect();
    (
        mine.last().copied(),
        mine.iter()
            .rev()
            .find(|r| r.outcome == Outcome::Pass)
            .copied(),
    )
}

/// Why a surface's drill is overdue on `today`, if it is: no passing drill, or the last one
/// is more than `every_days` old.
pub fn overdue(records: &[Record], surface: &str, every_days: u32, today: &str) -> Option<String> {
    let (_, last_pass) = latest(records, surface);
    let Some(last) = last_pass else {
        return Some(format!("surface `{surface}` has never passed a rollback drill (run `promptgate drill --surface {surface}` and commit its record)"));
    };
    let age = day_of_date(today)? - day_of_date(&last.date)?;
    (age > i64::from(every_days)).then(|| {
        format!("surface `{surface}`'s last passing rollback drill was {age} days ago ({}), more than every {every_days} days", last.date)
    })
}

/// The record of a drill, for the team to commit.
pub fn render(report: &DrillReport) -> String {
    let mut out = String::new();
    let outcome = match report.outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
    };
    let _ = writeln!(
        out,
        "# Rollback drill: {} ({})\n",
        report.surface, report.date
    );
    let _ = writeln!(out, "- Outcome: {outcome}");
    let _ = writeln!(out, "- From: {}", report.from);
    let _ = writeln!(out, "- Rolled back to: {}", report.to);
    if let Some(change) = &report.last_change {
        let _ = writeln!(out, "- Change rolled back: {change}");
    }
    let _ = writeln!(
        out,
        "- Plan: {}",
        report.plan_source.as_deref().unwrap_or("not found")
    );
    let _ = writeln!(
        out,
        "- Duration: {:.1}s (limit {} min)",
        report.seconds, report.max_minutes
    );
    for reason in &report.reasons {
        let _ = writeln!(out, "- Reason: {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(date: &str, outcome: Outcome) -> Record {
        Record {
            surface: "s".into(),
            date: date.into(),
            outcome,
            path: String::new(),
        }
    }

    #[test]
    fn parses_names_and_outcomes() {
        let r = parse(
            ".promptgate/drills/2026-03-01-support-answer.md",
            "# x\n\n- Outcome: pass\n",
        )
        .expect("record");
        assert_eq!(
            (r.surface.as_str(), r.date.as_str(), r.outcome),
            ("support-answer", "2026-03-01", Outcome::Pass)
        );
        assert!(parse(".promptgate/drills/notes.md", "- Outcome: pass").is_none());
    }

    #[test]
    fn overdue_after_every_days_or_without_a_pass() {
        let records = vec![
            record("2026-01-01", Outcome::Pass),
            record("2026-03-01", Outcome::Fail),
        ];
        assert_eq!(overdue(&records, "s", 90, "2026-03-31"), None);
        assert!(overdue(&records, "s", 90, "2026-04-02").is_some_and(|r| r.contains("91 days ago")));
        assert!(overdue(&[], "s", 90, "2026-04-02").is_some_and(|r| r.contains("never passed")));
    }
}
