//! `record`: every gated surface evaluated at one commit (cache first, the same evaluation
//! `eval` runs) and written to the ledger as `eval` entries: pass rate with its Wilson
//! interval, the tail, metrics, cost, latency, the failing and flaky case ids, and
//! fingerprints of the suite and prompt. When the commit's first-parent change touched
//! surfaces, the gate's `gate` entries follow (see [`super::gate`]). A surface that could not
//! be measured completely is not recorded: the ledger holds measurements, never guesses.

use std::path::{Path, PathBuf};

use git2::Oid;

use super::gate;
use super::{append, run_id, Entry, EntryKind, SCHEMA_VERSION};
use crate::config;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::{self, Cache};
use crate::eval::run::{self, CaseStatus, SurfaceResult};
use crate::eval::{revision, side};
use crate::gate::statistics::{tail, wilson};
use crate::git::{FileEntry, Repo, Snapshot};

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    /// The revision evaluated.
    pub rev: String,
    /// The config's path in the repository (read at `rev`).
    pub config_path: String,
    /// Where responses are cached, absolute (`None`: `.promptgate/cache` in the checkout);
    /// the evaluation and the gate share it.
    pub cache_dir: Option<PathBuf>,
    pub read_cache: bool,
}

/// What one `record` wrote.
#[derive(Debug)]
pub struct Recorded {
    pub commit: Oid,
    /// The `eval` entries, then the `gate` entries.
    pub entries: Vec<Entry>,
    /// Surfaces (or a gate) left out because a case could not be run or graded, with why.
    pub incomplete: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

/// What a surface's entry needs from before the run.
pub(super) struct Described {
    pub surface: String,
    pub model: String,
    pub suite: String,
    pub prompt: String,
}

/// Evaluates every gated surface at `request.rev`, gates the commit's first-parent change
/// when it touched surfaces (answers the evaluation just cached are reused), and appends
/// the entries to the ledger.
pub fn record(repo: &Repo, request: &RecordRequest) -> Result<Recorded> {
    let recorded = evaluate(repo, request, &[], true)?;
    append(repo.raw(), recorded.commit, &recorded.entries)?;
    Ok(recorded)
}

/// The `eval` entries `record` would write for the named surfaces (empty: every gated
/// one), without gating the change or writing anything.
pub fn measure(repo: &Repo, request: &RecordRequest, only: &[String]) -> Result<Recorded> {
    evaluate(repo, request, only, false)
}

/// A revision made ready to evaluate: its config, targets and what their entries need.
struct Loaded {
    commit: Oid,
    config: config::Config,
    targets: Vec<run::Target>,
    described: Vec<Described>,
    warnings: Vec<Diagnostic>,
    cache_dir: PathBuf,
}

/// A revision is measured with its own config (providers, keys, commands), so only one the
/// default branch holds is: a branch's servers and commands never run, nor reach the ledger.
/// Without a default branch (no `origin`, `main` or `master`) there is nothing to hold to.
fn on_default_branch(repo: &Repo, commit: Oid, rev: &str) -> Result<()> {
    let Some(default) = repo.default_base() else {
        return Ok(());
    };
    let tip = repo.resolve(&default.rev)?;
    if tip == commit || repo.raw().graph_descendant_of(tip, commit).unwrap_or(false) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{rev} ({}) is not on the default branch ({}): the ledger records the default branch, measured with its own providers and commands, never a branch's\n  help: record after the merge, or pass --rev {}",
        crate::git::short(commit),
        default.rev,
        default.rev
    )))
}

fn load(repo: &Repo, request: &RecordRequest, only: &[String]) -> Result<Loaded> {
    let commit = repo.resolve(&request.rev)?;
    on_default_branch(repo, commit, &request.rev)?;
    let snapshot = repo.tree_snapshot(commit)?;
    let Some(FileEntry::File(bytes)) = snapshot.read(&request.config_path)? else {
        return Err(Error::invalid(
            Diagnostic::error(
                &request.config_path,
                format!("no config file at {}", crate::git::short(commit)),
            )
            .with_help("commit a promptgate.toml (`promptgate init`), or record a later revision"),
        ));
    };
    let origin = format!("{}@{}", request.config_path, crate::git::short(commit));
    let loaded = config::load(&origin, &bytes).map_err(Error::Invalid)?;
    let config = loaded.config;
    let surfaces = revision::select_surfaces(&config, only)?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.raw().path().to_path_buf());
    let source = (origin.as_str(), String::from_utf8_lossy(&bytes));
    let prepared = revision::prepare(&config, &surfaces, &snapshot, source, &root, false)?;
    let mut warnings = loaded.warnings;
    warnings.extend(prepared.warnings);
    let described: Vec<Described> = prepared
        .targets
        .iter()
        .map(|t| Described {
            surface: t.suite.surface.clone(),
            model: run::build_request(&t.endpoint, t.suite.params(), Vec::new()).model,
            suite: super::file_fingerprint(&snapshot, &t.suite.case_file),
            prompt: super::file_fingerprint(&snapshot, &t.suite.entry.path),
        })
        .collect();
    let cache_dir = request
        .cache_dir
        .clone()
        .unwrap_or_else(|| root.join(cache::DEFAULT_DIR));
    Ok(Loaded {
        commit,
        config,
        targets: prepared.targets,
        described,
        warnings,
        cache_dir,
    })
}

fn evaluate(
    repo: &Repo,
    request: &RecordRequest,
    only: &[String],
    with_gate: bool,
) -> Result<Recorded> {
    let Loaded {
        commit,
        config,
        targets,
        described,
        mut warnings,
        cache_dir,
    } = load(repo, request, only)?;
    let options = side::options(&config, Cache::new(&cache_dir, request.read_cache));
    let result = side::run(targets, options, |_| {})
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    let (run_id, recorded_at) = (run_id(), crate::util::time::now_rfc3339());
    let mut entries = Vec::new();
    let mut incomplete = Vec::new();
    for (surface, described) in result.surfaces.iter().zip(&described) {
        if !surface.complete {
            incomplete.push(format!(
                "surface `{}`: {} case(s) could not be run or graded, so nothing was recorded for it",
                surface.name, surface.errors
            ));
            continue;
        }
        entries.push(entry(surface, described, commit, &run_id, &recorded_at));
    }
    let mut recorded = Recorded {
        commit,
        entries,
        incomplete,
        warnings: Vec::new(),
    };
    if with_gate {
        let stamp = gate::Stamp {
            run_id: &run_id,
            recorded_at: &recorded_at,
        };
        add_gate(repo, request, cache_dir, &described, &stamp, &mut recorded);
    }
    for warning in std::mem::take(&mut recorded.warnings) {
        // The gate reads the same config again: each warning is said once.
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    recorded.warnings = warnings;
    Ok(recorded)
}

/// The `gate` entries `record` would write for `request.rev`'s first-parent change (cache
/// first), without evaluating the revision on its own or writing anything.
pub fn gate_entries(repo: &Repo, request: &RecordRequest) -> Result<Recorded> {
    let loaded = load(repo, request, &[])?;
    let (run_id, recorded_at) = (run_id(), crate::util::time::now_rfc3339());
    let stamp = gate::Stamp {
        run_id: &run_id,
        recorded_at: &recorded_at,
    };
    let mut recorded = Recorded {
        commit: loaded.commit,
        entries: Vec::new(),
        incomplete: Vec::new(),
        warnings: loaded.warnings,
    };
    add_gate(
        repo,
        request,
        loaded.cache_dir,
        &loaded.described,
        &stamp,
        &mut recorded,
    );
    Ok(recorded)
}

/// Gates the recorded commit's first-parent change and adds its entries to `recorded`.
fn add_gate(
    repo: &Repo,
    request: &RecordRequest,
    cache_dir: PathBuf,
    described: &[Described],
    stamp: &gate::Stamp<'_>,
    recorded: &mut Recorded,
) {
    let setup = gate::Setup {
        config_path: &request.config_path,
        cache_dir,
        read_cache: request.read_cache,
    };
    let gated = gate::gate(repo, recorded.commit, &setup, described, stamp);
    recorded.entries.extend(gated.entries);
    recorded.incomplete.extend(gated.incomplete);
    for warning in gated.warnings {
        if !recorded.warnings.contains(&warning) {
            recorded.warnings.push(warning);
        }
    }
}

impl Recorded {
    /// What was written, a line per entry: the eval entries' pass rates, the gate entries'
    /// verdicts.
    pub fn describe(&self) -> String {
        let short = crate::git::short(self.commit);
        let mut out = String::new();
        for entry in &self.entries {
            let surface = crate::report::escape_controls(&entry.surface);
            let line = match &entry.gate {
                Some(gate) => format!(
                    "{short} gate{} {surface}: {}, {}, {}",
                    gate.pr.map(|n| format!(" (#{n})")).unwrap_or_default(),
                    gate.verdict.as_str(),
                    gate.tier.as_str(),
                    match gate.regressions.len() {
                        1 => "1 regression".to_string(),
                        n => format!("{n} regressions"),
                    }
                ),
                None => format!(
                    "{short} {surface}: {}/{} cases pass ({:.1}%)",
                    entry.passed,
                    entry.cases,
                    entry.pass_rate * 100.0
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
        let n = self.entries.len();
        out.push_str(&format!(
            "recorded {n} entr{} on {short} in {}\n",
            if n == 1 { "y" } else { "ies" },
            super::NOTES_REF
        ));
        out
    }
}

/// The commits one `record` run evaluates: `rev`, then with `--backfill weeks` the last
/// first-parent commit of each of those weeks (each once).
pub fn revisions(repo: &Repo, rev: Oid, backfill: Option<u32>) -> Result<Vec<Oid>> {
    let mut revisions = vec![rev];
    if let Some(weeks) = backfill {
        for commit in backfill_commits(repo, rev, weeks)? {
            if !revisions.contains(&commit) {
                revisions.push(commit);
            }
        }
    }
    Ok(revisions)
}

/// The commits `--backfill weeks` records: for each of the last `weeks` UTC ISO weeks (this
/// one included), the last first-parent commit from `from` committed in it, newest first.
/// A week without a commit has none (the review shows it as a gap, never invents it).
pub fn backfill_commits(repo: &Repo, from: Oid, weeks: u32) -> Result<Vec<Oid>> {
    let today = crate::util::time::today_number();
    let wanted: Vec<String> = (0..i64::from(weeks))
        .map(|back| crate::util::time::iso_week(today - 7 * back))
        .collect();
    let oldest_day = today - 7 * i64::from(weeks) - 7;
    let mut picked: Vec<(String, Oid)> = Vec::new();
    for step in super::history::first_parents(repo, from, "--backfill")? {
        let step = step?;
        let oid = step.oid;
        let day = step.time.div_euclid(86_400);
        if day < oldest_day {
            break;
        }
        let week = crate::util::time::iso_week(day);
        if wanted.contains(&week) && !picked.iter().any(|(w, _)| *w == week) {
            picked.push((week, oid));
        }
    }
    Ok(picked.into_iter().map(|(_, oid)| oid).collect())
}

fn entry(
    surface: &SurfaceResult,
    described: &Described,
    commit: Oid,
    run_id: &str,
    recorded_at: &str,
) -> Entry {
    let cases = &surface.case_summaries;
    let ids = |keep: &dyn Fn(&crate::eval::run::CaseSummary) -> bool| {
        cases
            .iter()
            .filter(|c| keep(c))
            .map(|c| c.id.clone())
            .collect()
    };
    let interval = wilson(surface.passed as u64, surface.cases as u64);
    let hardest = tail(
        &cases
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.difficulty))
            .collect::<Vec<_>>(),
    );
    let tail_pass_rate = (!hardest.is_empty()).then(|| {
        let passed = hardest
            .iter()
            .filter(|&&i| cases[i].status == CaseStatus::Pass)
            .count();
        passed as f64 / hardest.len() as f64
    });
    Entry {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        kind: EntryKind::Eval,
        recorded_at: recorded_at.to_string(),
        commit: commit.to_string(),
        surface: described.surface.clone(),
        provider: surface.provider.clone(),
        model: described.model.clone(),
        model_reported: surface.model_reported.clone(),
        cases: surface.cases,
        passed: surface.passed,
        pass_rate: surface.pass_rate,
        ci_low: interval.low,
        ci_high: interval.high,
        tail_pass_rate,
        metrics: surface
            .metrics
            .iter()
            .map(|(name, m)| (name.clone(), m.mean))
            .collect(),
        cost_usd: surface.cost_usd,
        latency_ms: surface.latency_ms,
        failed: ids(&|c| c.status == CaseStatus::Fail),
        flaky: ids(&|c| c.flaky),
        suite: described.suite.clone(),
        prompt: described.prompt.clone(),
        gate: None,
        experiment: None,
    }
}
