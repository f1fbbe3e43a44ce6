//! `promptgate drill`: rehearse rolling a surface back, step by step against the clock, and
//! `drill --status`: when each surface was last drilled.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{open_repo, Cli, DrillArgs};
use crate::config::{self, Config, Surface};
use crate::diagnostic::Diagnostic;
use crate::drill::{self, records, CommandOutcome, DrillReport, EvalOutcome, Outcome, Step};
use crate::error::{Error, Result};
use crate::eval::cache::Cache;
use crate::eval::price::PriceTable;
use crate::eval::runner::{self, Options, Target};
use crate::eval::{providers, suite};
use crate::exit;
use crate::gate::{self, SideResult, SurfaceChange, SurfaceInput, Thresholds};
use crate::git::{Repo, WorkTreeSnapshot};

/// The exit code of an interrupted drill: 128 + SIGINT, as shells report Ctrl-C.
const INTERRUPTED: i32 = 130;

pub(super) fn run(cli: &Cli, args: &DrillArgs) -> Result<i32> {
    let repo = open_repo()?;
    let config_path = super::config_path(cli, &repo);
    if args.status {
        return status(&repo, &config_path);
    }
    let name = args
        .surface
        .as_deref()
        .ok_or_else(|| Error::usage("pass --surface NAME (or --status)"))?;
    let from = repo.resolve(args.from.as_deref().unwrap_or("HEAD"))?;
    let config = drill::config_at(&repo, from, &config_path).ok_or_else(|| {
        Error::invalid(
            Diagnostic::error(
                &config_path,
                format!("no valid promptgate config at {}", crate::git::short(from)),
            )
            .with_help("run `promptgate validate --rev <rev>`"),
        )
    })?;
    let surface = config.surface_named(name).ok_or_else(|| {
        let known: Vec<&str> = config
            .surface
            .iter()
            .map(|s| s.get_ref().name.get_ref().as_str())
            .collect();
        Error::invalid(
            Diagnostic::error(&config_path, format!("unknown surface `{name}`"))
                .with_help(format!("the config declares: {}", known.join(", "))),
        )
    })?;
    let mut drill = Drill::new(&repo, &config, surface, from, args);
    let report = match drill.perform(&config_path) {
        Ok(report) => report,
        Err(drill::DrillError::Interrupted(_)) => {
            eprintln!("promptgate: drill interrupted; its temporary worktree was removed");
            return Ok(INTERRUPTED);
        }
        Err(drill::DrillError::Cannot(message)) => {
            eprintln!("error: the drill could not run: {message}");
            return Ok(exit::ERROR);
        }
    };
    write_outputs(&repo, args, &report)?;
    print!("{}", render(&report));
    Ok(if report.outcome == Outcome::Pass {
        exit::PASS
    } else {
        exit::BLOCKED
    })
}

struct Drill<'a> {
    repo: &'a Repo,
    config: &'a Config,
    surface: &'a Surface,
    from: git2::Oid,
    args: &'a DrillArgs,
    started: Instant,
    steps: Vec<Step>,
    reasons: Vec<String>,
}

impl<'a> Drill<'a> {
    fn new(
        repo: &'a Repo,
        config: &'a Config,
        surface: &'a Surface,
        from: git2::Oid,
        args: &'a DrillArgs,
    ) -> Self {
        Drill {
            repo,
            config,
            surface,
            from,
            args,
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
    fn perform(
        &mut self,
        config_path: &str,
    ) -> std::result::Result<DrillReport, drill::DrillError> {
        let name = self.surface.name.get_ref().clone();
        let target = match &self.args.to {
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
        let prices = PriceTable::new(self.config.price.clone());
        let price = endpoint.price_override.or_else(|| {
            prices.lookup(&runner::build_request(&endpoint, suite.params(), Vec::new()).model)
        });
        let repeat = self
            .surface
            .repeat
            .as_ref()
            .map_or(*self.config.gate.repeat.get_ref(), |r| *r.get_ref());
        let quorum = self
            .config
            .gate
            .quorum
            .as_ref()
            .map_or(runner::default_quorum(repeat), |q| *q.get_ref());
        let options = Options {
            cache: Cache::new(
                self.args
                    .cache_dir
                    .clone()
                    .unwrap_or_else(|| repo_dir.join(crate::eval::cache::DEFAULT_DIR)),
                !self.args.no_cache,
            ),
            shard: None,
            max_cost_usd: self.config.gate.max_cost_usd.as_ref().map(|b| *b.get_ref()),
            grader: None,
            prices,
            on_progress: None,
            keep_outputs: false,
            share_answers: false,
            command_dir: None,
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => return (false, e.to_string(), None),
        };
        let target = Target {
            suite,
            endpoint,
            judge: None,
            repeat,
            quorum: quorum.min(repeat),
            price,
        };
        let result = runtime.block_on(async {
            tokio::select! {
                result = runner::run(vec![target], options, |_| {}) => Some(result),
                () = drill::interrupt::until_interrupted() => None,
            }
        });
        let Some(result) = result else {
            return (false, "interrupted".into(), None);
        };
        let Some(side) = result.surfaces.into_iter().next().map(SideResult::from) else {
            return (false, "the eval produced no result".into(), None);
        };
        let value = |v: &Option<toml::Spanned<f64>>| v.as_ref().map(|v| *v.get_ref());
        let thresholds = Thresholds {
            min_pass_rate: value(&self.surface.min_pass_rate),
            max_drop: None,
            tail_min_pass_rate: value(&self.surface.tail_min_pass_rate),
            metrics: self
                .surface
                .metrics
                .iter()
                .map(|m| m.get_ref().into())
                .collect(),
            significance: *self.config.gate.significance.get_ref(),
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
        });
        let head = judged.head.clone();
        let rules: Vec<_> = judged
            .rules
            .into_iter()
            .filter(|r| r.rule != crate::gate::rules::RuleId::Mcnemar)
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
fn render(report: &DrillReport) -> String {
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

/// Writes `drill.json` and `drill.md` to `--out` and the drill record into the working
/// tree's `.promptgate/drills/` (a new file for the team to commit; nothing else changes).
fn write_outputs(repo: &Repo, args: &DrillArgs, report: &DrillReport) -> Result<()> {
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let json = serde_json::to_string_pretty(report).unwrap_or_default();
        for (name, text) in [("drill.json", json), ("drill.md", render(report))] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
        }
    }
    let Some(root) = repo.workdir() else {
        return Ok(());
    };
    let dir = root.join(records::DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let path = dir.join(format!("{}-{}.md", report.date, report.surface));
    std::fs::write(&path, records::render(report)).map_err(|e| Error::io("write", &path, e))?;
    eprintln!(
        "promptgate: drill record written to {} (commit it)",
        path.strip_prefix(root).unwrap_or(&path).display()
    );
    Ok(())
}

/// Every surface with its last drill and whether it is overdue.
fn status(repo: &Repo, config_path: &str) -> Result<i32> {
    let head = repo.head()?;
    let config = drill::config_at(repo, head, config_path).ok_or_else(|| {
        Error::invalid(Diagnostic::error(
            config_path,
            "no valid promptgate config at HEAD",
        ))
    })?;
    let root = repo
        .workdir()
        .ok_or_else(|| Error::usage("the repository is bare"))?;
    let all = records::list(&WorkTreeSnapshot::new(root))?;
    let today = crate::util::time::today();
    println!(
        "{:<24} {:<12} {:<8} overdue (every {} days)",
        "surface", "last drill", "outcome", config.drill.every_days
    );
    for surface in config.surface.iter().map(|s| s.get_ref().name.get_ref()) {
        let (last, _) = records::latest(&all, surface);
        let overdue = records::overdue(&all, surface, config.drill.every_days, &today)
            .map_or("no", |_| "yes");
        let (date, outcome) = last.map_or(("never".to_string(), "-"), |r| {
            (
                r.date.clone(),
                if r.outcome == Outcome::Pass {
                    "pass"
                } else {
                    "fail"
                },
            )
        });
        println!("{surface:<24} {date:<12} {outcome:<8} {overdue}");
    }
    Ok(exit::PASS)
}
