//! The ledger: what promptgate measured, kept in the repository itself as git notes under
//! `refs/notes/promptgate` — one JSON line per entry, attached to the evaluated commit,
//! readable with `git notes --ref=promptgate show <commit>`. Writing appends lines (the
//! union of what was there and what is new: no entry is ever lost); reading keeps every
//! entry it understands and skips, with a warning naming the commit, a malformed line, an
//! unknown `schema_version` or a note another tool wrote.

use std::collections::BTreeMap;

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::eval::run::Latency;

pub mod changelog;
pub mod compare;
pub mod experiments;
pub mod gate;
pub mod history;
pub mod push;
pub mod record;
pub mod review;

/// The notes ref the ledger lives under.
pub const NOTES_REF: &str = "refs/notes/promptgate";

/// The version of the entries this promptgate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A surface's suite evaluated at the commit.
    Eval,
    /// The gate's verdict on the change the commit made.
    Gate,
    /// A model-watch comparison.
    Experiment,
}

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub schema_version: u32,
    /// Unique per `record` run: the entries one run wrote share it.
    pub run_id: String,
    pub kind: EntryKind,
    /// UTC, RFC 3339.
    pub recorded_at: String,
    pub commit: String,
    pub surface: String,
    pub provider: String,
    /// The model the config names.
    pub model: String,
    /// The model the provider's answers name, when they name one.
    #[serde(default)]
    pub model_reported: Option<String>,
    pub cases: usize,
    pub passed: usize,
    pub pass_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    #[serde(default)]
    pub tail_pass_rate: Option<f64>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub latency_ms: Latency,
    #[serde(default)]
    pub failed: Vec<String>,
    #[serde(default)]
    pub flaky: Vec<String>,
    /// Fingerprints (SHA-256) of the case file and the entry prompt file.
    pub suite: String,
    pub prompt: String,
    /// What a `gate` entry adds (present exactly when `kind` is `gate`).
    #[serde(
        flatten,
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "facts"
    )]
    pub gate: Option<GateFacts>,
    /// What an `experiment` entry adds (present exactly when `kind` is `experiment`).
    #[serde(
        flatten,
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "facts"
    )]
    pub experiment: Option<ExperimentFacts>,
}

/// A flattened part of an entry, when the line has it. Read from a copy of the line's
/// remaining fields: serde's own flattened `Option`s take the fields they match even when
/// they fail, so a failed `gate` would leave an `experiment` without its `verdict`.
fn facts<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let rest = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    Ok(serde_json::from_value(serde_json::Value::Object(rest)).ok())
}

/// One side of a comparison as the ledger keeps it: where its answers came from and what
/// they scored, cost and took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    pub provider: String,
    pub model: String,
    #[serde(default)]
    pub model_reported: Option<String>,
    pub pass_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub latency_ms: Latency,
}

impl SideSummary {
    /// One side (`head`, else the base) of a judged surface; a side the gate did not
    /// measure has zero rates.
    pub fn of(report: &crate::gate::SurfaceReport, head: bool) -> SideSummary {
        let pick = |pair: &crate::gate::model::SidePair<String>| {
            if head { &pair.head } else { &pair.base }.clone()
        };
        let stats = if head { &report.head } else { &report.base };
        let (pass_rate, ci_low, ci_high) = stats
            .as_ref()
            .map_or((0.0, 0.0, 0.0), |s| (s.pass_rate, s.ci_low, s.ci_high));
        let (cost_usd, latency) = if head {
            (report.cost.head_usd, report.latency_ms.head)
        } else {
            (report.cost.base_usd, report.latency_ms.base)
        };
        SideSummary {
            provider: pick(&report.provider).unwrap_or_default(),
            model: pick(&report.model).unwrap_or_default(),
            model_reported: pick(&report.model_reported),
            pass_rate,
            ci_low,
            ci_high,
            cost_usd,
            latency_ms: latency.unwrap_or_default(),
        }
    }
}

/// What an `experiment` entry adds: one surface's cases on its configured provider and on a
/// candidate, same prompts and trials (`promptgate compare --log`). The entry's own
/// measurement fields are the candidate's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentFacts {
    /// What the experiment set out to learn, as `--log` gave it.
    pub hypothesis: String,
    pub current: SideSummary,
    pub candidate: SideSummary,
    /// Case ids passing on the current provider and failing on the candidate, and the other
    /// way round.
    #[serde(default)]
    pub regressions: Vec<String>,
    #[serde(default)]
    pub fixes: Vec<String>,
    pub mcnemar_p: f64,
    pub verdict: CompareVerdict,
}

/// What a comparison concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareVerdict {
    #[serde(rename = "better")]
    Better,
    #[serde(rename = "worse")]
    Worse,
    #[serde(rename = "no significant difference")]
    NoSignificantDifference,
}

/// The gate's verdict on the change a commit made to its first parent: what a `gate`
/// entry adds to the head's measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateFacts {
    /// The first parent (the change's base) and the commit itself.
    pub base: String,
    pub head: String,
    /// The pull request that merged it, from GitHub's merge or squash message.
    #[serde(default)]
    pub pr: Option<u64>,
    pub verdict: crate::gate::Verdict,
    pub tier: crate::config::Tier,
    #[serde(default)]
    pub approved_by: Vec<String>,
    /// Case ids that passed on the base and fail on the head, and the other way round.
    #[serde(default)]
    pub regressions: Vec<String>,
    #[serde(default)]
    pub fixes: Vec<String>,
    /// The change artifact's impact and rollback texts, when it had them.
    #[serde(default)]
    pub impact: Option<String>,
    #[serde(default)]
    pub rollback: Option<String>,
    /// The base side's measurement of the surface (the entry's own fields are the head's).
    #[serde(default)]
    pub base_side: Option<SideSummary>,
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot {action} the ledger ({NOTES_REF}) at commit {commit}: {source}\n  help: check that the repository is writable and `git notes --ref=promptgate list` works")]
    Git {
        action: &'static str,
        commit: String,
        source: git2::Error,
    },
}

impl From<LedgerError> for crate::error::Error {
    fn from(error: LedgerError) -> Self {
        crate::error::Error::Ledger(Box::new(error))
    }
}

/// A commit's entries, and what was skipped on the way.
#[derive(Debug, Default)]
pub struct Read {
    pub entries: Vec<Entry>,
    /// One per skipped line, naming the commit and why.
    pub warnings: Vec<String>,
}

/// The entries attached to `commit` (none without a note).
/// An entry that names another commit (as its own, or as a gate's head) is skipped with a
/// warning: a note says what was measured on the commit it is attached to.
pub fn read(repo: &git2::Repository, commit: Oid) -> Result<Read, LedgerError> {
    let text = note_text(repo, commit)?;
    let sha = commit.to_string();
    let mut read = parse(&sha, &text);
    let (entries, elsewhere): (Vec<Entry>, Vec<Entry>) = read
        .entries
        .into_iter()
        .partition(|e| e.commit == sha && e.gate.as_ref().is_none_or(|g| g.head == sha));
    read.entries = entries;
    read.warnings.extend(elsewhere.iter().map(|e| {
        format!(
            "ledger note of {}: a `{}` entry for surface `{}` names commit {} instead; skipped",
            &sha[..12],
            serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            crate::report::escape_controls(&e.surface),
            crate::report::escape_controls(
                e.gate
                    .as_ref()
                    .filter(|g| g.head != sha)
                    .map_or(&e.commit, |g| &g.head)
            )
        )
    }));
    Ok(read)
}

/// The entries of a note's text; every line that is not one is a warning.
pub fn parse(commit: &str, text: &str) -> Read {
    let mut read = Read::default();
    let short = &commit[..commit.len().min(12)];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(e) => {
                read.warnings.push(format!(
                    "ledger note of {short}, line {}: not a JSON entry ({e}); skipped",
                    n + 1
                ));
                continue;
            }
        };
        match value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => {
                read.warnings.push(format!(
                    "ledger note of {short}, line {}: schema_version {v} is not one this promptgate reads ({SCHEMA_VERSION}); skipped (upgrade promptgate to read it)",
                    n + 1
                ));
                continue;
            }
            None => {
                read.warnings.push(format!(
                    "ledger note of {short}, line {}: not a promptgate entry (no schema_version); skipped",
                    n + 1
                ));
                continue;
            }
        }
        match serde_json::from_value::<Entry>(value) {
            // The kind's own facts must come with it: a gate entry without its verdict is
            // not a gate entry.
            Ok(entry)
                if (entry.kind == EntryKind::Gate) != entry.gate.is_some()
                    || (entry.kind == EntryKind::Experiment) != entry.experiment.is_some() =>
            {
                read.warnings.push(format!(
                    "ledger note of {short}, line {}: a `{}` entry without its facts (or with another kind's); skipped",
                    n + 1,
                    serde_json::to_value(entry.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                ));
            }
            Ok(entry) => match implausible(&entry) {
                Some(why) => read.warnings.push(format!(
                    "ledger note of {short}, line {}: {why}, which no measurement gives; skipped",
                    n + 1
                )),
                None => read.entries.push(entry),
            },
            // serde quotes a bad enum value as it is: its line breaks are escaped, so a
            // forged `kind` cannot start a line (a workflow command) of the warning.
            Err(e) => read.warnings.push(format!(
                "ledger note of {short}, line {}: a malformed entry ({}); skipped",
                n + 1,
                crate::report::escape_controls(&e.to_string())
            )),
        }
    }
    read
}

/// Why an entry cannot be a measurement (a rate outside 0..1, an interval upside down, more
/// passed than cases, a non-finite metric or cost, a time that is not one), or `None`.
fn implausible(entry: &Entry) -> Option<&'static str> {
    let rate = |v: f64| (0.0..=1.0).contains(&v);
    let side_ok = |s: &SideSummary| {
        rate(s.pass_rate) && rate(s.ci_low) && rate(s.ci_high) && s.ci_low <= s.ci_high
    };
    if !(rate(entry.pass_rate) && rate(entry.ci_low) && rate(entry.ci_high)) {
        return Some("a pass rate or interval outside 0..1");
    }
    if entry.ci_low > entry.ci_high {
        return Some("an interval whose low end is above its high end");
    }
    if entry.passed > entry.cases {
        return Some("more cases passed than were run");
    }
    if entry.tail_pass_rate.is_some_and(|v| !rate(v)) {
        return Some("a tail pass rate outside 0..1");
    }
    if entry.metrics.values().any(|v| !v.is_finite())
        || entry.cost_usd.is_some_and(|c| !(c.is_finite() && c >= 0.0))
    {
        return Some("a metric or cost that is not a finite number");
    }
    let date = entry.recorded_at.as_bytes();
    let dated = date.len() >= 10
        && date[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && entry
            .recorded_at
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-:.+".contains(c));
    if !dated {
        return Some("a `recorded_at` that is not an RFC 3339 time");
    }
    let sides_ok = match (&entry.gate, &entry.experiment) {
        (Some(g), _) => g.base_side.as_ref().is_none_or(side_ok),
        (_, Some(x)) => side_ok(&x.current) && side_ok(&x.candidate) && rate(x.mcnemar_p),
        _ => true,
    };
    if !sides_ok {
        return Some("a side's pass rate, interval or p-value outside 0..1");
    }
    None
}

/// Appends `entries` to `commit`'s note, keeping every line already there.
pub fn append(repo: &git2::Repository, commit: Oid, entries: &[Entry]) -> Result<(), LedgerError> {
    if entries.is_empty() {
        return Ok(());
    }
    let fail = |action, source| LedgerError::Git {
        action,
        commit: commit.to_string(),
        source,
    };
    let mut text = note_text(repo, commit)?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for entry in entries {
        // An entry always serializes: its fields are plain data.
        if let Ok(line) = serde_json::to_string(entry) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("promptgate", "promptgate@localhost"))
        .map_err(|e| fail("sign", e))?;
    repo.note(&signature, &signature, Some(NOTES_REF), commit, &text, true)
        .map_err(|e| fail("write", e))?;
    Ok(())
}

/// The note's text, or "" without one.
fn note_text(repo: &git2::Repository, commit: Oid) -> Result<String, LedgerError> {
    match repo.find_note(Some(NOTES_REF), commit) {
        // Bytes that are not UTF-8 become U+FFFD: the lines around them still read.
        Ok(note) => Ok(String::from_utf8_lossy(note.message_bytes()).into_owned()),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(String::new()),
        Err(e) => Err(LedgerError::Git {
            action: "read",
            commit: commit.to_string(),
            source: e,
        }),
    }
}

/// A run id: the time and the process, unique enough to tell two runs apart.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

/// The SHA-256 of a file in `snapshot`, hex ("" when it is not a file there).
pub fn file_fingerprint(snapshot: &dyn crate::git::Snapshot, path: &str) -> String {
    match snapshot.read(path) {
        Ok(Some(crate::git::FileEntry::File(bytes))) => fingerprint(&bytes),
        _ => String::new(),
    }
}

/// The SHA-256 of some bytes, hex.
pub fn fingerprint(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(surface: &str) -> Entry {
        Entry {
            schema_version: SCHEMA_VERSION,
            run_id: run_id(),
            kind: EntryKind::Eval,
            recorded_at: crate::util::time::now_rfc3339(),
            commit: "c".repeat(40),
            surface: surface.into(),
            provider: "main".into(),
            model: "gpt-4o-mini".into(),
            model_reported: None,
            cases: 10,
            passed: 9,
            pass_rate: 0.9,
            ci_low: 0.6,
            ci_high: 0.98,
            tail_pass_rate: None,
            metrics: BTreeMap::new(),
            cost_usd: None,
            latency_ms: Latency::default(),
            failed: vec!["c3".into()],
            flaky: Vec::new(),
            suite: fingerprint(b"cases"),
            prompt: fingerprint(b"prompt"),
            gate: None,
            experiment: None,
        }
    }

    fn repo_with_commit() -> (tempfile::TempDir, git2::Repository, Oid) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let signature = git2::Signature::now("t", "t@example.com").expect("signature");
        let tree = {
            let mut index = repo.index().expect("index");
            let oid = index.write_tree().expect("tree");
            repo.find_tree(oid).expect("tree")
        };
        let commit = repo
            .commit(Some("HEAD"), &signature, &signature, "c", &tree, &[])
            .expect("commit");
        drop(tree);
        (dir, repo, commit)
    }

    #[test]
    fn appending_keeps_every_earlier_entry() {
        let (_dir, repo, commit) = repo_with_commit();
        let entry = |surface| Entry {
            commit: commit.to_string(),
            ..entry(surface)
        };
        append(&repo, commit, &[entry("a")]).expect("append");
        append(&repo, commit, &[entry("b"), entry("c")]).expect("append");
        let read = read(&repo, commit).expect("read");
        let surfaces: Vec<&str> = read.entries.iter().map(|e| e.surface.as_str()).collect();
        assert_eq!(surfaces, ["a", "b", "c"]);
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    }

    #[test]
    fn garbage_is_skipped_with_a_warning_naming_the_commit() {
        let good = serde_json::to_string(&entry("a")).unwrap();
        let future = good.replace("\"schema_version\":1", "\"schema_version\":99");
        let text = format!(
            "{good}\nnot json at all\n{{\"note\": \"another tool\"}}\n{future}\n{{\"schema_version\":1,\"kind\":\"eval\"}}\n"
        );
        let read = parse("0123456789abcdef", &text);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.warnings.len(), 4, "{:?}", read.warnings);
        assert!(read.warnings.iter().all(|w| w.contains("0123456789ab")));
        assert!(read.warnings[2].contains("schema_version 99"));
    }

    #[test]
    fn gate_facts_sit_at_the_top_level_and_read_back() {
        let mut gate = entry("a");
        gate.kind = EntryKind::Gate;
        gate.gate = Some(GateFacts {
            base: "b".repeat(40),
            head: "c".repeat(40),
            pr: Some(12),
            verdict: crate::gate::Verdict::NeedsSignoff,
            tier: crate::config::Tier::Council,
            approved_by: vec!["alice".into()],
            regressions: vec!["c3".into()],
            fixes: Vec::new(),
            impact: Some("friendlier".into()),
            rollback: None,
            base_side: None,
        });
        let line = serde_json::to_string(&gate).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["pr"], 12);
        assert_eq!(value["verdict"], "needs-signoff");
        assert_eq!(value["tier"], "council");
        let read = parse("c", &line);
        assert_eq!(read.entries, [gate]);
        let plain = serde_json::to_string(&entry("b")).unwrap();
        assert!(!plain.contains("\"verdict\""), "{plain}");
        assert_eq!(parse("c", &plain).entries[0].gate, None);
        // A gate entry whose facts do not read is skipped, never read as a plain entry.
        let broken = line.replace("\"verdict\":\"needs-signoff\"", "\"verdict\":\"maybe\"");
        let read = parse("c", &broken);
        assert!(read.entries.is_empty(), "{:?}", read.entries);
        assert!(
            read.warnings[0].contains("a `gate` entry without its facts"),
            "{:?}",
            read.warnings
        );
    }

    #[test]
    fn a_commit_without_a_note_has_no_entries() {
        let (_dir, repo, commit) = repo_with_commit();
        let read = read(&repo, commit).expect("read");
        assert!(read.entries.is_empty() && read.warnings.is_empty());
    }
}
