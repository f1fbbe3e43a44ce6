//! `compare`, model-watch: one surface's cases at a revision run on its configured provider
//! and on a candidate provider — same prompts, same trials, cache first, one run — and
//! judged by the gate's own statistics (pass rates with Wilson intervals, flips by case id,
//! the paired McNemar test, cost and latency per side) into a verdict: `better`, `worse` or
//! `no significant difference`. Where answers come from is the default branch's to decide:
//! both sides connect with the `[provider.*]` tables of the default branch's config (the
//! revision's only when there is no default branch), taking the revision's model and
//! parameters; a revision outside the default branch runs none of its own commands, and
//! none at all when the default branch has no config. `--log` keeps a complete comparison as an `experiment` entry in the ledger.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::Oid;
use serde::Serialize;

use super::{
    append, run_id, CompareVerdict, Entry, EntryKind, ExperimentFacts, SideSummary, SCHEMA_VERSION,
};
use crate::config::{self, Config};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::{self, Cache};
use crate::eval::run::{self, CaseStatus};
use crate::eval::{revision, side};
use crate::gate::model::{Look, SidePair, SideResult, SideSettings, SurfaceChange, SurfaceInput};
use crate::gate::trust::{HeadTrust, Side, Trust};
use crate::gate::SurfaceReport;
use crate::git::{short, Repo};

/// What to compare.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    pub surface: String,
    /// The candidate provider's name (`[provider.NAME]`).
    pub candidate: String,
    /// The revision whose prompts and cases run.
    pub rev: String,
    /// The config's path in the repository.
    pub config_path: String,
    /// Where responses are cached, absolute (`None`: `.promptgate/cache` in the checkout).
    pub cache_dir: Option<PathBuf>,
    pub read_cache: bool,
    /// `--log`: the hypothesis the `experiment` entry keeps.
    pub log: Option<String>,
}

/// One comparison, as `compare --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub surface: String,
    /// The commit the cases ran at.
    pub rev: String,
    pub current: SideSummary,
    pub candidate: SideSummary,
    /// Case ids passing on the current provider and failing on the candidate.
    pub regressions: Vec<String>,
    /// Case ids failing on the current provider and passing on the candidate.
    pub fixes: Vec<String>,
    pub mcnemar_p: f64,
    pub verdict: CompareVerdict,
    /// Cases per side, trials per case, and the significance the verdict used.
    #[serde(skip)]
    pub cases: usize,
    #[serde(skip)]
    pub trials: u32,
    #[serde(skip)]
    pub significance: f64,
}

/// What one `compare` did.
#[derive(Debug)]
pub struct Compared {
    pub comparison: Comparison,
    /// Why not every case was measured on both sides (then nothing is logged).
    pub incomplete: Option<String>,
    /// The `experiment` entry written, under `--log`.
    pub logged: Option<Entry>,
    pub warnings: Vec<Diagnostic>,
}

impl Compared {
    /// What to tell the user besides the comparison: why it is incomplete, or that it was
    /// logged.
    pub fn note(&self) -> Option<String> {
        self.incomplete.clone().or_else(|| {
            self.logged.as_ref().map(|entry| {
                format!(
                    "logged the experiment on {} in {}",
                    &entry.commit[..entry.commit.len().min(7)],
                    super::NOTES_REF
                )
            })
        })
    }
}

impl CompareVerdict {
    /// The verdict as JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareVerdict::Better => "better",
            CompareVerdict::Worse => "worse",
            CompareVerdict::NoSignificantDifference => "no significant difference",
        }
    }

    /// `better` when the candidate fixes more than it breaks and McNemar says it is not
    /// chance, `worse` the other way round, else no significant difference.
    pub fn decide(regressions: usize, fixes: usize, p: f64, significance: f64) -> Self {
        if p < significance && fixes > regressions {
            CompareVerdict::Better
        } else if p < significance && regressions > fixes {
            CompareVerdict::Worse
        } else {
            CompareVerdict::NoSignificantDifference
        }
    }
}

/// A config file as a commit holds it: the config, its origin and text (`None` without one).
struct AtCommit {
    loaded: config::Loaded,
    origin: String,
    text: String,
}

fn config_at(repo: &Repo, commit: Oid, path: &str) -> Result<Option<AtCommit>> {
    let Some(bytes) = super::history::config_bytes(repo, path, commit)? else {
        return Ok(None);
    };
    let origin = format!("{path}@{}", short(commit));
    let loaded = config::load(&origin, &bytes).map_err(Error::Invalid)?;
    Ok(Some(AtCommit {
        loaded,
        origin,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}

/// The config whose `[provider.*]` tables are trusted: the default branch's, else `own`'s;
/// and whether `commit` lies outside the default branch's history (a branch of its own).
fn trusted_config(repo: &Repo, path: &str, own: &Config, commit: Oid) -> Result<(Config, bool)> {
    let Some(default) = repo.default_base() else {
        return Ok((own.clone(), false));
    };
    let tip = repo.resolve(&default.rev)?;
    let outside = tip != commit && !repo.raw().graph_descendant_of(tip, commit).unwrap_or(false);
    let config = match config_at(repo, tip, path)? {
        Some(at_tip) => at_tip.loaded.config,
        // Nothing on the default branch decides where a branch's answers go, so none go.
        None if outside => {
            return Err(Error::invalid(
                Diagnostic::error(
                    path,
                    format!(
                        "the default branch ({}) has no config, and {} is not on it: the providers, keys and commands would all be the revision's own",
                        default.rev,
                        short(commit)
                    ),
                )
                .with_help("merge a promptgate.toml into the default branch first, then compare the branch"),
            ))
        }
        None => own.clone(),
    };
    Ok((config, outside))
}

/// Runs the surface at `request.rev` on its provider and on the candidate, judges the pair
/// with the gate's statistics and, under `--log` when every case was measured on both
/// sides, appends the `experiment` entry to the ledger on the revision's commit.
pub fn compare(repo: &Repo, request: &CompareRequest) -> Result<Compared> {
    let commit = repo.resolve(&request.rev)?;
    let snapshot = repo.tree_snapshot(commit)?;
    let Some(at_rev) = config_at(repo, commit, &request.config_path)? else {
        return Err(Error::invalid(
            Diagnostic::error(
                &request.config_path,
                format!("no config file at {}", short(commit)),
            )
            .with_help("commit a promptgate.toml (`promptgate init`), or compare at a later revision with --rev"),
        ));
    };
    let own = &at_rev.loaded.config;
    let surface = revision::select_surfaces(own, std::slice::from_ref(&request.surface))?[0];
    let (trusted, outside) = trusted_config(repo, &request.config_path, own, commit)?;
    // The trusted providers, with the revision's model and parameters (what is measured).
    let trust = Trust::new(&trusted, None, Some(own), HeadTrust::Untrusted);
    let run_config = trust.providers(Side::Head).clone();
    let declared = || {
        run_config
            .provider
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let undeclared = |name: &str, role: &str| {
        let why = trust
            .refused(Side::Head, name)
            .map(|why| format!(" ({why})"))
            .unwrap_or_default();
        Error::usage(format!(
            "{role} `{name}` is not declared in the default branch's config{why}; where answers come from is the default branch's to decide. Declared providers: {}\n  help: pick one of those with --provider, or add [provider.{name}] on the default branch first",
            declared()
        ))
    };
    if !run_config.provider.contains_key(&request.candidate) {
        return Err(undeclared(&request.candidate, "provider"));
    }
    let Some(current) = surface.provider.as_ref().map(|p| p.get_ref().clone()) else {
        return Err(Error::invalid(Diagnostic::error(
            &at_rev.origin,
            format!(
                "surface `{}` has no provider to compare with",
                request.surface
            ),
        )));
    };
    if !run_config.provider.contains_key(&current) {
        return Err(undeclared(
            &current,
            &format!("surface `{}`'s provider", request.surface),
        ));
    }
    let mut on_candidate = surface.clone();
    on_candidate.provider = Some(toml::Spanned::new(0..0, request.candidate.clone()));
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.raw().path().to_path_buf());
    let source = (at_rev.origin.as_str(), at_rev.text.as_str().into());
    let prepared = revision::prepare(
        &run_config,
        &[surface, &on_candidate],
        &snapshot,
        source,
        &root,
        false,
    )?;
    let mut warnings = at_rev.loaded.warnings;
    warnings.extend(prepared.warnings);
    // What the revision changes about where answers come from is said, and not used.
    let overridden = trust.overridden.iter();
    warnings.extend(overridden.map(|o| {
        Diagnostic::warning(
            &at_rev.origin,
            o.replace("the base's", "the default branch's"),
        )
    }));
    let settings: Vec<SideSettings> = prepared
        .targets
        .iter()
        .map(|t| {
            let sent = run::build_request(&t.endpoint, t.suite.params(), Vec::new());
            SideSettings {
                provider: t.endpoint.name.clone(),
                model: sent.model,
                parameters: sent.params,
            }
        })
        .collect();
    // A branch sets how the model samples, never where the calls go (as in `check`).
    for sent in settings.iter().filter(|_| outside) {
        let unsent = trust.unsent_parameters(&sent.parameters);
        if !unsent.is_empty() {
            return Err(Error::invalid(Diagnostic::error(&at_rev.origin, format!(
                "{} sets request parameter(s) `{}` for provider `{}`; they are not sampling parameters (they could reroute or multiply the calls), so a revision outside the default branch may not send them",
                short(commit), unsent.join("`, `"), sent.provider
            )).with_help(format!("set only {} in front matter or `parameters`, or compare on the default branch", crate::gate::trust::SAMPLING_PARAMETERS.join(", ")))));
        }
    }
    // Commands are the default branch's: a revision outside it runs none of its own.
    let commands: BTreeSet<String> = prepared
        .targets
        .iter()
        .flat_map(|t| t.suite.cases.iter())
        .flat_map(|c| c.assertions.iter())
        .filter(|a| outside && a.kind == crate::eval::assert::Kind::Exec)
        .map(|a| a.value.as_ref().map(|v| v.to_string()).unwrap_or_default())
        .collect();
    if let Some(argv) = commands.first() {
        return Err(Error::invalid(Diagnostic::error(&at_rev.origin, format!(
            "{} is not on the default branch and its cases run the command {argv} (an `exec` assertion); a revision outside the default branch runs no command",
            short(commit)
        )).with_help("compare it once merged, or compare a revision of the default branch with --rev")));
    }
    let trials = prepared.targets.first().map_or(0, |t| t.repeat);
    let described = prepared.targets.first().map(|t| Described {
        suite: super::file_fingerprint(&snapshot, &t.suite.case_file),
        prompt: super::file_fingerprint(&snapshot, &t.suite.entry.path),
    });
    let cache_dir = request
        .cache_dir
        .clone()
        .unwrap_or_else(|| root.join(cache::DEFAULT_DIR));
    let options = side::options(&run_config, Cache::new(&cache_dir, request.read_cache));
    let result = side::run(prepared.targets, options, |_| {})
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    let mut sides = result.surfaces.into_iter().map(SideResult::from);
    let (base, head) = (sides.next(), sides.next());
    let mut settings = settings.into_iter();
    let input = SurfaceInput {
        name: request.surface.clone(),
        change: SurfaceChange::Modified,
        changed_files: Vec::new(),
        gated: false,
        thresholds: crate::gate::thresholds(&run_config, surface),
        base,
        head,
        settings: SidePair {
            base: settings.next(),
            head: settings.next(),
        },
        suite_changes: Vec::new(),
        base_suite: None,
        notes: Vec::new(),
        look: Look::default(),
    };
    let head_cases = input
        .head
        .as_ref()
        .map(|h| h.cases.clone())
        .unwrap_or_default();
    let significance = input.thresholds.significance;
    let report = crate::gate::judge_surface(input);
    let comparison = comparison(&report, commit, trials, significance);
    let incomplete = (!report.complete).then(|| {
        format!(
            "surface `{}`: {} case(s) could not be run or graded on both sides ({}), {}",
            report.name,
            report.errors.len(),
            report
                .first_error
                .as_deref()
                .unwrap_or("the run lost cases"),
            if request.log.is_some() {
                "so the experiment was not logged; fix the cause and compare again"
            } else {
                "so the comparison is not complete; fix the cause and compare again"
            }
        )
    });
    let logged = match (&request.log, &incomplete, &described) {
        (Some(hypothesis), None, Some(described)) => {
            let entry = experiment_entry(&comparison, &report, &head_cases, hypothesis, described);
            append(repo.raw(), commit, std::slice::from_ref(&entry))?;
            Some(entry)
        }
        _ => None,
    };
    Ok(Compared {
        comparison,
        incomplete,
        logged,
        warnings,
    })
}

/// What the entry fingerprints.
struct Described {
    suite: String,
    prompt: String,
}

fn comparison(report: &SurfaceReport, commit: Oid, trials: u32, significance: f64) -> Comparison {
    let ids = |flips: &[crate::gate::model::Flip]| flips.iter().map(|f| f.id.clone()).collect();
    let regressions: Vec<String> = ids(&report.regressions);
    let fixes: Vec<String> = ids(&report.fixes);
    let mcnemar_p = report.mcnemar_p.unwrap_or(1.0);
    Comparison {
        surface: report.name.clone(),
        rev: commit.to_string(),
        current: SideSummary::of(report, false),
        candidate: SideSummary::of(report, true),
        verdict: CompareVerdict::decide(regressions.len(), fixes.len(), mcnemar_p, significance),
        regressions,
        fixes,
        mcnemar_p,
        cases: report.cases,
        trials,
        significance,
    }
}

/// The `experiment` entry: the candidate's measurement with the comparison's facts.
fn experiment_entry(
    comparison: &Comparison,
    report: &SurfaceReport,
    candidate_cases: &[run::CaseSummary],
    hypothesis: &str,
    described: &Described,
) -> Entry {
    let ids = |keep: &dyn Fn(&run::CaseSummary) -> bool| {
        candidate_cases
            .iter()
            .filter(|c| keep(c))
            .map(|c| c.id.clone())
            .collect()
    };
    let candidate = &comparison.candidate;
    Entry {
        schema_version: SCHEMA_VERSION,
        run_id: run_id(),
        kind: EntryKind::Experiment,
        recorded_at: crate::util::time::now_rfc3339(),
        commit: comparison.rev.clone(),
        surface: comparison.surface.clone(),
        provider: candidate.provider.clone(),
        model: candidate.model.clone(),
        model_reported: candidate.model_reported.clone(),
        cases: report.head.as_ref().map_or(0, |s| s.cases),
        passed: report.head.as_ref().map_or(0, |s| s.passed),
        pass_rate: candidate.pass_rate,
        ci_low: candidate.ci_low,
        ci_high: candidate.ci_high,
        tail_pass_rate: report.tail.as_ref().map(|t| t.head_pass_rate),
        metrics: report
            .metrics
            .iter()
            .filter_map(|m| Some((m.name.clone(), m.head?)))
            .collect(),
        cost_usd: candidate.cost_usd,
        latency_ms: candidate.latency_ms,
        failed: ids(&|c| c.status == CaseStatus::Fail),
        flaky: ids(&|c| c.flaky),
        suite: described.suite.clone(),
        prompt: described.prompt.clone(),
        gate: None,
        experiment: Some(ExperimentFacts {
            hypothesis: hypothesis.to_string(),
            current: comparison.current.clone(),
            candidate: comparison.candidate.clone(),
            regressions: comparison.regressions.clone(),
            fixes: comparison.fixes.clone(),
            mcnemar_p: comparison.mcnemar_p,
            verdict: comparison.verdict,
        }),
    }
}

/// A pass rate with its interval, in percent.
pub(super) fn rate(side: &SideSummary) -> String {
    format!(
        "{:.1}% [{:.1}–{:.1}%]",
        side.pass_rate * 100.0,
        side.ci_low * 100.0,
        side.ci_high * 100.0
    )
}

fn cost(side: &SideSummary) -> String {
    side.cost_usd
        .map_or_else(|| "unknown".to_string(), |c| format!("${c:.4}"))
}

fn latency(side: &SideSummary) -> String {
    format!("{} / {} ms", side.latency_ms.p50, side.latency_ms.p95)
}

/// The model a side ran with, and the one its answers named when that differs.
pub(super) fn model(side: &SideSummary) -> String {
    match &side.model_reported {
        Some(reported) if *reported != side.model => format!("{} ({reported})", side.model),
        _ => side.model.clone(),
    }
}

impl Comparison {
    /// The comparison as `--format json` prints it.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The verdict in one line, with the counts and the p-value behind it.
    pub fn verdict_line(&self) -> String {
        format!(
            "verdict: {} — {} fix(es), {} regression(s), McNemar p = {:.4} (significance {})",
            self.verdict.as_str(),
            self.fixes.len(),
            self.regressions.len(),
            self.mcnemar_p,
            self.significance
        )
    }

    /// A short table and the verdict line, for a terminal.
    pub fn text(&self) -> String {
        use crate::report::escape_controls as plain;
        let (c, k) = (&self.current, &self.candidate);
        let mut out = format!(
            "compare {} at {}: {} case(s), {} trial(s) each\n",
            plain(&self.surface),
            &self.rev[..self.rev.len().min(7)],
            self.cases,
            self.trials
        );
        let rows = [
            ("", "current".to_string(), "candidate".to_string()),
            (
                "provider",
                plain(&c.provider).into(),
                plain(&k.provider).into(),
            ),
            ("model", plain(&model(c)).into(), plain(&model(k)).into()),
            ("pass rate", rate(c), rate(k)),
            ("cost", cost(c), cost(k)),
            ("latency p50/p95", latency(c), latency(k)),
        ];
        let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        for (label, left, right) in rows {
            let pad = width - left.chars().count();
            out.push_str(&format!(
                "  {label:<16} {left}{} {right}\n",
                " ".repeat(pad)
            ));
        }
        for (title, ids) in [("regressions", &self.regressions), ("fixes", &self.fixes)] {
            let list: Vec<String> = ids.iter().map(|id| plain(id).into_owned()).collect();
            out.push_str(&format!(
                "{title} ({}): {}\n",
                ids.len(),
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(", ")
                }
            ));
        }
        out.push_str(&self.verdict_line());
        out.push('\n');
        out
    }

    /// A table (current vs candidate), the flips by case id and the verdict line.
    pub fn markdown(&self) -> String {
        use crate::report::markdown::code;
        let cell = |text: &str| code(text).replace('|', "\\|");
        let (c, k) = (&self.current, &self.candidate);
        let mut out = format!(
            "## Model-watch: {} at {}\n\n{} case(s), {} trial(s) each, on the current provider and on the candidate.\n\n",
            cell(&self.surface),
            code(&self.rev[..self.rev.len().min(7)]),
            self.cases,
            self.trials
        );
        out.push_str("| | current | candidate |\n| --- | --- | --- |\n");
        let rows = [
            ("provider", cell(&c.provider), cell(&k.provider)),
            ("model", cell(&model(c)), cell(&model(k))),
            ("pass rate (95% CI)", rate(c), rate(k)),
            ("cost", cost(c), cost(k)),
            ("latency p50 / p95", latency(c), latency(k)),
        ];
        for (label, left, right) in rows {
            out.push_str(&format!("| {label} | {left} | {right} |\n"));
        }
        for (title, ids) in [
            (
                "Regressions (pass on current, fail on candidate)",
                &self.regressions,
            ),
            ("Fixes (fail on current, pass on candidate)", &self.fixes),
        ] {
            let list: Vec<String> = ids.iter().map(|id| code(id)).collect();
            out.push_str(&format!(
                "\n**{title}**: {}\n",
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(", ")
                }
            ));
        }
        out.push_str(&format!(
            "\n**Verdict: {}** — {} fix(es), {} regression(s), McNemar p = {:.4} (significance {})\n",
            self.verdict.as_str(),
            self.fixes.len(),
            self.regressions.len(),
            self.mcnemar_p,
            self.significance
        ));
        out
    }
}
