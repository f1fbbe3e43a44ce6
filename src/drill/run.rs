//! One drill, step by step against the clock: find the rollback plan of the change being
//! rolled back, restore the surface's files in a temporary worktree, validate and evaluate
//! the rolled-back version against the surface's thresholds (the same evaluation step as
//! `check` and `eval`), run the surface's `drill_command`, and write what happened.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{records, CommandOutcome, DrillError, DrillReport, EvalOutcome, Outcome, Step};
use crate::config::{self, Config, Surface};
use crate::drill;
use crate::error::{Error, Result};
use crate::eval::cache::Cache;
use crate::eval::{providers, side, suite};
use crate::gate::{self, SideResult, SurfaceChange, SurfaceInput, Thresholds};
use crate::git::{Repo, WorkTreeSnapshot};

/// What a drill is asked to do.
#[derive(Debug, Clone, Default)]
pub struct DrillRequest {
    /// The version to roll back to (a revision); `None`: the version before the surface's
    /// last change.
    pub to: Option<String>,
    /// Where responses are cached (`None`: `.promptgate/cache` in the checkout).
    pub cache_dir: Option<PathBuf>,
    /// Whether cached responses are read.
    pub read_cache: bool,
}

pub struct Drill<'a> {
    repo: &'a Repo,
    config: &'a Config,
    surface: &'a Surface,
    from: git2::Oid,
    request: &'a DrillRequest,
    started: Instant,
    steps: Vec<Step>,
    reasons: Vec<String>,
}

impl<'a> Drill<'a> {
    pub fn new(
        repo: &'a Repo,
        config: &'a Config,
        surface: &'a Surface,
        from: git2::Oid,
        request: &'a DrillRequest,
    ) -> Self {
        Drill {
            repo,
            config,
            surface,
            from,
            request,
            started: Instant::now(),
            steps: Vec::new(),
            reasons: Vec::new(),
        }
    }

    /// Times one step and records its result.
    fn step<T>(&mut self, name: &str, work: impl FnOnce(&mut Self) -> (bool, String, T)) -> T {
        let started = Instant::now();
        let (ok, detail, value) = work(self);
        if !ok {
            self.reasons.push(format!("{name}: {detail}"));
        }
        self.steps.push(Step {
            name: name.into(),
            ok,
            detail,
            seconds: started.elapsed().as_secs_f64(),
        });
        value
    }

    /// Runs every step; `Err` when the drill cannot run at all (no target, no worktree).
    pub fn perform(&mut self, config_path: &str) -> std::result::Result<DrillReport, DrillError> {
        let name = self.surface.name.get_ref().clone();
        let target = match &self.request.to {
            Some(rev) => drill::Target {
                to: self.repo.resolve(rev).map_err(|e| e.to_string())?,
                last_change: drill::find_target(self.repo, self.from, &name, config_path)
                    .ok()
                    .and_then(|t| t.last_change),
            },
            None => drill::find_target(self.repo, self.from, &name, config_path)?,
        };
        let target_config = drill::config_at(self.repo, target.to, config_path);
        let target_surface = target_config
            .as_ref()
            .and_then(|c| c.surface_named(&name))
            .cloned();
        let Some(target_surface) = target_surface else {
            return Err(format!(
                "surface `{name}` does not exist at {}, so it cannot be rolled back there",
                crate::git::short(target.to)
            )
            .into());
        };
        let (plan_found, plan_source, plan) = self.step("find the rollback plan", |d| match target
            .last_change
            .map(|c| drill::find_plan(d.repo, c))
        {
            Some(Ok(status)) if status.found => {
                let source = status.source.clone().unwrap_or_default();
                let text = target
                    .last_change
                    .and_then(|c| drill::plan_text(d.repo, c, &source));
                (true, format!("from {source}"), (true, Some(source), text))
            }
            Some(Ok(status)) => (
                false,
                status.reason.unwrap_or_else(|| "no rollback plan".into()),
                (false, None, None),
            ),
            Some(Err(e)) => (false, e.to_string(), (false, None, None)),
            None => (
                false,
                "no change to read a plan from (pass --to only with a change to roll back)".into(),
                (false, None, None),
            ),
        });
        let repo_dir = self
            .repo
            .workdir()
            .map(Path::to_path_buf)
            .ok_or("the repository is bare")?;
        let worktree = drill::TempWorktree::add(&repo_dir, self.from)?;
        let target_tree = self
            .repo
            .tree_snapshot(target.to)
            .map_err(|e| e.to_string())?;
        let from_tree = self
            .repo
            .tree_snapshot(self.from)
            .map_err(|e| e.to_string())?;
        let restored = self.step("roll back in a temporary worktree", |_| {
            let mut files = drill::surface_files(&from_tree, &target_surface).unwrap_or_default();
            files.extend(drill::surface_files(&target_tree, &target_surface).unwrap_or_default());
            files.sort();
            files.dedup();
            match drill::restore(&worktree.path, &target_tree, &files) {
                Ok(()) => (
                    true,
                    format!(
                        "{} file(s) restored to {}",
                        files.len(),
                        crate::git::short(target.to)
                    ),
                    files,
                ),
                Err(e) => (false, e, files),
            }
        });
        let eval = self.step("validate and evaluate the rolled-back version", |d| {
            d.evaluate(&worktree.path, &repo_dir, &target_surface)
        });
        drill::interrupt::check()?;
        let command = self.surface.drill_command.clone().map(|argv| {
            self.step("run drill_command", |d| {
                let remaining = Duration::from_secs(u64::from(d.config.drill.max_minutes) * 60)
                    .saturating_sub(d.started.elapsed());
                let env = [
                    ("PROMPTGATE_DRILL_SURFACE", name.clone()),
                    ("PROMPTGATE_DRILL_FROM", d.from.to_string()),
                    ("PROMPTGATE_DRILL_TARGET", target.to.to_string()),
                    (
                        "PROMPTGATE_DRILL_WORKTREE",
                        worktree.path.display().to_string(),
                    ),
                ];
                let outcome = drill::run_command(&argv, &worktree.path, &env, remaining);
                let ok = outcome.exit_code == Some(0);
                let detail = format!(
                    "exit {}: {}",
                    outcome.exit_code.map_or("none".into(), |c| c.to_string()),
                    outcome.output
                );
                (ok, detail, outcome)
            })
        });
        drop(worktree);
        drill::interrupt::check()?;
        let seconds = self.started.elapsed().as_secs_f64();
        let limit = f64::from(self.config.drill.max_minutes) * 60.0;
        if seconds > limit {
            self.reasons.push(format!(
                "the drill took {seconds:.0}s, over the {} minute limit",
                self.config.drill.max_minutes
            ));
        }
        let passed = plan_found
            && eval
                .as_ref()
                .is_some_and(|e| e.complete && e.rules.iter().all(|r| r.ok))
            && command
                .as_ref()
                .is_none_or(|c: &CommandOutcome| c.exit_code == Some(0))
            && seconds <= limit
            && self.reasons.is_empty();
        Ok(DrillReport {
            schema_version: crate::gate::SCHEMA_VERSION,
            surface: name,
            date: crate::util::time::today(),
            from: self.from.to_string(),
            to: target.to.to_string(),
            last_change: target.last_change.map(|c| c.to_string()),
            plan_found,
            plan_source,
            plan,
            restored_files: restored,
            eval,
            command,
            steps: self.steps.clone(),
            seconds,
            max_minutes: self.config.drill.max_minutes,
            outcome: if passed { Outcome::Pass } else { Outcome::Fail },
            reasons: self.reasons.clone(),
        })
    }

    /// Loads the rolled-back suite from the worktree and judges it by the surface's current
    /// thresholds.
    fn evaluate(
        &self,
        worktree: &Path,
        repo_dir: &Path,
        definition: &Surface,
    ) -> (bool, String, Option<EvalOutcome>) {
        if !self.surface.gate {
            return (
                true,
                "the surface is not gated (`gate = false`): nothing to evaluate".into(),
                None,
            );
        }
        let snapshot = WorkTreeSnapshot::new(worktree);
        let loaded = match suite::load(&snapshot, config::DEFAULT_PATH, definition) {
            Ok(loaded) => loaded,
            Err(e) => return (false, e.to_string(), None),
        };
        let problems = loaded.error_messages();
        let Some(suite) = loaded.suite.filter(|_| problems.is_empty()) else {
            return (
                false,
                format!(
                    "the rolled-back version does not validate: {}",
                    problems.join("; ")
                ),
                None,
            );
        };
        let Some(provider) = definition.provider.as_ref().map(|p| p.get_ref().clone()) else {
            return (false, "the surface has no provider".into(), None);
        };
        let endpoint = match providers::connect(self.config, &provider, repo_dir, false) {
            Ok(endpoint) => Arc::new(endpoint),
            Err(e) => return (false, e, None),
        };
        let cache = Cache::new(
            self.request
                .cache_dir
                .clone()
                .unwrap_or_else(|| repo_dir.join(crate::eval::cache::DEFAULT_DIR)),
            self.request.read_cache,
        );
        let target = match side::target(self.config, self.surface, &provider, suite, endpoint, None)
        {
            Ok((target, _)) => target,
            Err(unpriced) => {
                return (
                    false,
                    format!(
                        "`max_cost_usd` is set but the price of model `{}` is unknown; {}",
                        unpriced.model,
                        unpriced.help()
                    ),
                    None,
                )
            }
        };
        let options = side::options(self.config, cache);
        let stop = drill::interrupt::until_interrupted();
        let result = match side::run_until(vec![target], options, |_| {}, stop) {
            Ok(Some(result)) => result,
            Ok(None) => return (false, "interrupted".into(), None),
            Err(e) => return (false, e.to_string(), None),
        };
        let Some(side) = result.surfaces.into_iter().next().map(SideResult::from) else {
            return (false, "the eval produced no result".into(), None);
        };
        // Judged alone (no base to drop from) by the surface's current thresholds.
        let thresholds = Thresholds {
            max_drop: None,
            ..gate::thresholds(self.config, self.surface)
        };
        let judged = gate::judge_surface(SurfaceInput {
            name: self.surface.name.get_ref().clone(),
            change: SurfaceChange::Added,
            changed_files: Vec::new(),
            gated: true,
            thresholds,
            base: None,
            head: Some(side),
            settings: Default::default(),
            suite_changes: Vec::new(),
            base_suite: None,
            notes: Vec::new(),
            look: Default::default(),
        });
        let head = judged.head.clone();
        let rules: Vec<_> = judged
            .rules
            .into_iter()
            .filter(|r| r.rule != crate::gate::model::RuleId::Mcnemar)
            .collect();
        let outcome = EvalOutcome {
            pass_rate: head.as_ref().map_or(0.0, |h| h.pass_rate),
            passed: head.as_ref().map_or(0, |h| h.passed),
            cases: head.as_ref().map_or(0, |h| h.cases),
            complete: judged.complete,
            rules,
        };
        let ok = outcome.complete && outcome.rules.iter().all(|r| r.ok);
        let failed: Vec<String> = outcome
            .rules
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.describe())
            .collect();
        let detail = if ok {
            format!(
                "{}/{} cases pass ({:.1}%)",
                outcome.passed,
                outcome.cases,
                outcome.pass_rate * 100.0
            )
        } else if !outcome.complete {
            format!(
                "{} case(s) could not be run: {}",
                judged.errors.len(),
                judged.first_error.unwrap_or_default()
            )
        } else {
            failed.join("; ")
        };
        (ok, detail, Some(outcome))
    }
}

/// `drill.md`: the drill step by step.
pub fn render(report: &DrillReport) -> String {
    let mut out = String::new();
    let outcome = if report.outcome == Outcome::Pass {
        "pass"
    } else {
        "FAIL"
    };
    let short = |sha: &str| sha[..sha.len().min(7)].to_string();
    let _ = writeln!(out, "# Rollback drill of `{}`: {outcome}\n", report.surface);
    let _ = writeln!(
        out,
        "From {} back to {} ({}), {:.1}s of a {} minute limit.\n",
        short(&report.from),
        short(&report.to),
        report.date,
        report.seconds,
        report.max_minutes
    );
    let _ = writeln!(out, "| step | ok | detail | seconds |\n|---|---|---|---|");
    for step in &report.steps {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} |",
            step.name,
            if step.ok { "yes" } else { "no" },
            step.detail.replace('|', "\\|").replace('\n', " "),
            step.seconds
        );
    }
    if let Some(plan) = &report.plan {
        let _ = writeln!(out, "\n## Rollback plan\n\n{plan}");
    }
    if !report.reasons.is_empty() {
        let _ = writeln!(out, "\n## Why it failed\n");
        for reason in &report.reasons {
            let _ = writeln!(out, "- {reason}");
        }
    }
    out
}

/// Writes `drill.json` and `drill.md` into `out`, when given, and the drill record into the
/// working tree's `.promptgate/drills/` (a new file for the team to commit; nothing else
/// changes); returns the record's path in the repository.
pub fn write_outputs(
    repo: &Repo,
    out: Option<&Path>,
    report: &DrillReport,
) -> Result<Option<PathBuf>> {
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let json = serde_json::to_string_pretty(report).unwrap_or_default();
        for (name, text) in [("drill.json", json), ("drill.md", render(report))] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
        }
    }
    let Some(root) = repo.workdir() else {
        return Ok(None);
    };
    let dir = root.join(records::DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let path = dir.join(format!("{}-{}.md", report.date, report.surface));
    std::fs::write(&path, records::render(report)).map_err(|e| Error::io("write", &path, e))?;
    Ok(Some(path.strip_prefix(root).unwrap_or(&path).to_path_buf()))
}
