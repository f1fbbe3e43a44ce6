//! `experiments`: the experiment log `compare --log` keeps — every `experiment` entry in
//! the ledger (all notes under `refs/notes/promptgate`), newest first, as JSON or a line
//! each. Lines the ledger cannot read are skipped with its warnings.

use serde::Serialize;

use super::compare::{model, rate};
use super::{CompareVerdict, EntryKind, LedgerError, SideSummary, NOTES_REF};

/// One logged comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub recorded_at: String,
    pub surface: String,
    pub hypothesis: String,
    pub current: SideSummary,
    pub candidate: SideSummary,
    pub verdict: CompareVerdict,
    pub regressions: Vec<String>,
    pub fixes: Vec<String>,
    pub mcnemar_p: f64,
    /// The commit the cases ran at.
    pub commit: String,
}

/// The log, newest first, and the ledger lines skipped on the way.
#[derive(Debug, Default, Serialize)]
pub struct Experiments {
    pub experiments: Vec<Experiment>,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Every `experiment` entry of the ledger, newest first by `recorded_at`.
pub fn experiments(repo: &git2::Repository) -> Result<Experiments, LedgerError> {
    let fail = |source| LedgerError::Git {
        action: "list",
        commit: "(all)".into(),
        source,
    };
    let mut found = Experiments::default();
    let notes = match repo.notes(Some(NOTES_REF)) {
        Ok(notes) => notes,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(found),
        Err(e) => return Err(fail(e)),
    };
    for note in notes {
        let (_, commit) = note.map_err(fail)?;
        let read = super::read(repo, commit)?;
        found.warnings.extend(read.warnings);
        for entry in read.entries {
            let (EntryKind::Experiment, Some(facts)) = (entry.kind, entry.experiment) else {
                continue;
            };
            found.experiments.push(Experiment {
                recorded_at: entry.recorded_at,
                surface: entry.surface,
                hypothesis: facts.hypothesis,
                current: facts.current,
                candidate: facts.candidate,
                verdict: facts.verdict,
                regressions: facts.regressions,
                fixes: facts.fixes,
                mcnemar_p: facts.mcnemar_p,
                commit: entry.commit,
            });
        }
    }
    // RFC 3339 in UTC sorts as text; ties keep a stable order by commit.
    found.experiments.sort_by(|a, b| {
        b.recorded_at
            .cmp(&a.recorded_at)
            .then_with(|| a.commit.cmp(&b.commit))
    });
    Ok(found)
}

impl Experiments {
    /// The log as JSON (with a final newline), or as text.
    pub fn render(&self, json: bool) -> String {
        if json {
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
        } else {
            self.text()
        }
    }

    /// One line each: date, surface, hypothesis, current model → candidate model, pass
    /// rates, verdict.
    pub fn text(&self) -> String {
        use crate::report::escape_controls as plain;
        if self.experiments.is_empty() {
            return "no experiments in the ledger yet (log one with `promptgate compare --log HYPOTHESIS`)\n".into();
        }
        self.experiments
            .iter()
            .map(|e| {
                format!(
                    "{} {} \"{}\": {} → {}, {} → {}, {}\n",
                    plain(e.recorded_at.get(..10).unwrap_or(&e.recorded_at)),
                    plain(&e.surface),
                    plain(&e.hypothesis),
                    plain(&model(&e.current)),
                    plain(&model(&e.candidate)),
                    rate(&e.current),
                    rate(&e.candidate),
                    e.verdict.as_str()
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::ledger::CompareVerdict;

    #[test]
    fn the_verdict_needs_more_flips_one_way_and_significance() {
        let decide = CompareVerdict::decide;
        assert_eq!(decide(1, 8, 0.039, 0.05), CompareVerdict::Better);
        assert_eq!(decide(8, 1, 0.039, 0.05), CompareVerdict::Worse);
        assert_eq!(
            decide(1, 8, 0.039, 0.01),
            CompareVerdict::NoSignificantDifference
        );
        assert_eq!(
            decide(0, 0, 1.0, 0.05),
            CompareVerdict::NoSignificantDifference
        );
    }

    #[test]
    fn an_experiment_entry_reads_back() {
        let line = r#"{"schema_version":1,"run_id":"x","kind":"experiment","recorded_at":"2026-12-01T07:00:00Z","commit":"abc","surface":"s","provider":"c","model":"gpt-b","model_reported":"gpt-b","cases":10,"passed":9,"pass_rate":0.9,"ci_low":0.5,"ci_high":0.98,"tail_pass_rate":null,"metrics":{},"cost_usd":null,"latency_ms":{"p50":1,"p95":2},"failed":["c8"],"flaky":[],"suite":"a","prompt":"b","hypothesis":"h","current":{"provider":"main","model":"gpt-a","model_reported":null,"pass_rate":0.2,"ci_low":0.1,"ci_high":0.5,"cost_usd":null,"latency_ms":{"p50":1,"p95":2}},"candidate":{"provider":"c","model":"gpt-b","model_reported":null,"pass_rate":0.9,"ci_low":0.5,"ci_high":0.98,"cost_usd":null,"latency_ms":{"p50":1,"p95":2}},"regressions":["c8"],"fixes":[],"mcnemar_p":0.04,"verdict":"better"}"#;
        let read = super::super::parse("abc", line);
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        assert!(
            read.entries[0].experiment.is_some(),
            "{:?}",
            read.entries[0]
        );
    }
}
