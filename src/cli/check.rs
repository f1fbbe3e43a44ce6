//! `promptgate check`: the whole gate. Resolves base, head and merge base; reads the policy
//! from the base (trust model); builds the change set; evaluates every affected surface on
//! both sides in one run (cache first); checks artifacts, tier and approvals; decides the
//! verdict and writes the reports. Whatever stops it midway becomes an `error` verdict with
//! the reason, never a pass.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::pull::{self, Pull};
use super::Format;
use super::{open_repo, print_warnings, use_color, CheckArgs, Cli};
use crate::changeset::{self, ChangeSet, ConfigSource};
use crate::config::{self, Config, Surface, Tier};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::Cache;
use crate::eval::case_diff::{self, CaseChange};
use crate::eval::price::PriceTable;
use crate::eval::providers::{self, Endpoint};
use crate::eval::run::{self as runner, CaseSummary, Options, Shard, Target};
use crate::eval::suite::{self, Suite};
use crate::gate::artifacts::{self, Document, Headings};
use crate::gate::trust::{HeadTrust, Side, Trust};
use crate::gate::{
    self, model::SideSettings, Approvals, ChangedFile, Context, Report, SideResult, SurfaceChange,
    SurfaceInput, Thresholds,
};
use crate::git::{FileEntry, Repo, Snapshot, TreeSnapshot};
use crate::github;
use crate::report;

/// A finished check: the report, and what the other outputs draw on.
pub struct Checked {
    pub report: Report,
    pub changes: Option<ChangeSet>,
    /// Every evaluated side's cases, for JUnit: (surface, "base" | "head", cases).
    pub sides: Vec<(String, &'static str, Vec<CaseSummary>)>,
    /// The variables the configs read API keys from: their values are redacted.
    pub secret_vars: Vec<String>,
}

impl Checked {
    /// Every secret value promptgate knows of, redacted from the report and the cases
    /// (model outputs and grader messages can carry one).
    pub fn redact(&mut self) {
        let secrets = crate::secrets::Secrets::from_env(self.secret_vars.iter().cloned());
        self.report = secrets.redacted(self.report.clone());
        for (_, _, cases) in &mut self.sides {
            *cases = secrets.redacted(std::mem::take(cases));
        }
    }
}

pub(super) fn run(cli: &Cli, args: &CheckArgs) -> Result<i32> {
    let repo = open_repo();
    let mut pull = pull::locate(args, repo.as_ref().ok())?;
    let mut checked = match (pull.problem.take(), repo) {
        (Some(error), _) | (None, Err(error)) => fail_unless_usage(error)?,
        (None, Ok(repo)) => gather_or_fail(cli, args, &pull, &repo)?,
    };
    checked.report.pull_request = pull.number;
    checked.redact();
    if checked.report.verdict == gate::Verdict::Error {
        if let Some(fork) = pull.pull().filter(|p| p.is_fork()) {
            checked.report.reasons.push(pull::fork_note(fork.number));
        }
    }
    let markdown = emit(cli, args.out.as_deref(), args.format, &checked)?;
    // A shard's verdict is partial: the matrix's verdict comes from `promptgate merge`, so
    // a shard only fails the job when it could not run.
    let code = if args.shard.is_some() && checked.report.verdict != gate::Verdict::Error {
        eprintln!("promptgate: shard {} done; run `promptgate merge` over every shard's --out directory for the verdict", args.shard.as_deref().unwrap_or_default());
        crate::exit::PASS
    } else {
        checked.report.exit_code
    };
    // Workflow commands go to stdout, unless stdout holds a JSON report.
    let annotate = |line: &str| match args.format {
        Format::Json => eprintln!("{line}"),
        _ => println!("{line}"),
    };
    if pull.env.actions {
        // Not being able to write a step output must not keep the verdict off the PR.
        if let Err(error) = actions_outputs(&pull.env, args, &checked, &markdown, code, &annotate) {
            eprintln!("promptgate: {error}");
            annotate(&github::actions::error(
                None,
                "promptgate could not write the step outputs",
                &error.to_string(),
            ));
        }
    }
    if args.post {
        pull::post(&pull, &checked.report, &markdown, &annotate);
    }
    Ok(code)
}

/// Runs the gate; anything but a usage mistake that stops it becomes an `error` verdict.
pub(super) fn gather_or_fail(
    cli: &Cli,
    args: &CheckArgs,
    pull: &Pull,
    repo: &Repo,
) -> Result<Checked> {
    gather(cli, args, pull, repo).or_else(fail_unless_usage)
}

fn fail_unless_usage(error: Error) -> Result<Checked> {
    match error {
        Error::Usage { .. } => Err(error),
        error => Ok(failed(&error)),
    }
}

/// In GitHub Actions: the report in the step summary, `verdict`, `exit-code` and `report`
/// as step outputs, and an `::error` on each prompt file behind a failed rule.
fn actions_outputs(
    env: &github::Env,
    args: &CheckArgs,
    checked: &Checked,
    markdown: &str,
    code: i32,
    annotate: &dyn Fn(&str),
) -> Result<()> {
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => {
            let dir = env
                .runner_temp
                .clone()
                .unwrap_or_else(std::env::temp_dir)
                .join("promptgate");
            write_dir(&dir, checked, markdown)?;
            dir
        }
    };
    if let Some(summary) = &env.step_summary {
        github::actions::append_summary(summary, markdown)?;
    }
    if let Some(output) = &env.output {
        github::actions::write_outputs(
            output,
            &[
                ("verdict", checked.report.verdict.as_str().to_string()),
                ("exit-code", code.to_string()),
                ("report", dir.join("report.json").display().to_string()),
            ],
        )?;
    }
    for line in github::actions::annotations(&checked.report) {
        annotate(&line);
    }
    Ok(())
}

/// A gate that could not finish: `error`, with what went wrong and how to fix it.
fn failed(error: &Error) -> Checked {
    let context = Context {
        errors: vec![error.to_string()],
        ..Context::default()
    };
    Checked {
        report: gate::decide(context, Vec::new()),
        changes: None,
        sides: Vec::new(),
        secret_vars: Vec::new(),
    }
}

fn gather(cli: &Cli, args: &CheckArgs, pull: &Pull, repo: &Repo) -> Result<Checked> {
    if let Some(session) = &pull.session {
        let from_pull = (args.range.base.is_none(), args.range.head.is_none());
        pull::ensure_commits(repo, session, from_pull)?;
    }
    let (base_arg, head_arg) = pull.range(args);
    let super::Range {
        base_name,
        base,
        head,
        merge_base,
    } = super::resolve_range(repo, base_arg.as_deref(), &head_arg)?;
    let (base_tip, old, new) = (
        repo.tree_snapshot(base)?,
        repo.tree_snapshot(merge_base)?,
        repo.tree_snapshot(head)?,
    );
    let config_path = super::config_path(cli, repo);
    let base_config = read_config(&base_tip, &config_path, "base")?;
    let head_config = read_config(&new, &config_path, "head")?;
    let mapping = [&head_config, &base_config]
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| {
            Error::invalid(
                Diagnostic::error(
                    &config_path,
                    "neither the base nor the head has a promptgate config",
                )
                .with_help("run `promptgate init` and commit the config"),
            )
        })?;
    let source = ConfigSource {
        origin: &mapping.origin,
        repo_path: &config_path,
        bytes: &mapping.bytes,
    };
    // The base branch's surfaces map the change too: it may gate files the branch's own
    // config never mentions (a surface added on the base after the branch started).
    let policy_map = base_config
        .as_ref()
        .and_then(|c| config::SurfaceMap::parse(&c.origin, &c.bytes).ok());
    let mut changes =
        changeset::assemble_with(repo, &old, &new, source, policy_map.as_ref(), |_| {
            repo.diff_commits(merge_base, head)
        })?;
    print_warnings(&changes.warnings);
    changes.base_label = base_name;
    changes.head_label = head_arg.clone();
    (changes.base, changes.head, changes.merge_base) = (Some(base), Some(head), Some(merge_base));
    let mut context = Context {
        base: Some(base.to_string()),
        head: Some(head.to_string()),
        merge_base: Some(merge_base.to_string()),
        pull_request: pull.number,
        changed_files: changed_files(&changes),
        ..Context::default()
    };
    if changes.changes.is_empty() {
        // Nothing a surface depends on changed: nothing to gate.
        return Ok(Checked {
            report: gate::decide(context, Vec::new()),
            changes: Some(changes),
            sides: Vec::new(),
            secret_vars: Vec::new(),
        });
    }
    let policy_config = base_config
        .as_ref()
        .or(head_config.as_ref())
        .map(|c| &c.config);
    let policy = policy_config.ok_or_else(|| Error::usage("no config"))?;
    let old_config = read_config(&old, &config_path, "merge base").ok().flatten();
    let plans = plan_surfaces(
        &changes,
        base_config.as_ref().map(|c| &c.config),
        old_config.as_ref().map(|c| &c.config),
        head_config.as_ref().map(|c| &c.config),
    );
    let tiers: Vec<Tier> = plans.iter().map(|p| p.definition().tier).collect();
    // What the change loosens is what it changes: the head against its merge base (the base
    // branch's later changes are not the change's), else against the base branch.
    let mut decision = gate::tier::decide(
        &tiers,
        plans.len(),
        old_config
            .as_ref()
            .or(base_config.as_ref())
            .map(|c| &c.config),
        head_config.as_ref().map(|c| &c.config),
    );
    drill_notes(policy, &base_tip, &plans, &mut context)?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.raw().path().to_path_buf());
    crate::secrets::guard_checkout(&root);
    let commands_dir = (!args.trust_head)
        .then(tempfile::tempdir)
        .transpose()
        .map_err(|e| Error::io("create", "a directory for the base's commands", e))?;
    let mut trust = Trust::new(
        policy,
        old_config.as_ref().map(|c| &c.config),
        head_config.as_ref().map(|c| &c.config),
        if args.trust_head {
            HeadTrust::Trusted
        } else {
            HeadTrust::Untrusted
        },
    );
    if args.trust_head {
        context.notes.push("--trust-head: a maintainer vouched for this head, so its own providers, surface file mappings and commands were used".into());
    }
    let renames: BTreeMap<String, String> = changes
        .changes
        .iter()
        .filter_map(|c| c.old_path.clone().map(|old| (old, c.path.clone())))
        .collect();
    let (inputs, sides) = evaluate(EvalPlan {
        plans: &plans,
        trust: &mut trust,
        renames: &renames,
        policy,
        old_config: old_config.as_ref().map(|c| &c.config),
        old: &old,
        new: &new,
        cassettes: if args.trust_head { &new } else { &base_tip },
        cache: response_cache(args, &root, [&base_tip, &new], &mut context)?,
        commands: commands_dir.as_ref().map(|d| d.path()),
        commands_commit: Some(base),
        repo,
        config_path: &config_path,
        root: &root,
        args,
        context: &mut context,
    })?;
    // Removing or weakening eval cases loosens the gate as surely as a lower threshold.
    decision.raise(
        inputs
            .iter()
            .flat_map(|i| gate::tier::case_loosenings(&i.name, &i.suite_changes)),
    );
    let surfaces: Vec<gate::SurfaceReport> =
        inputs.iter().cloned().map(gate::judge_surface).collect();
    // A suite edit that hides what the base's suite would catch is for the bar's owners.
    decision.raise(surfaces.iter().flat_map(hidden_by_suite_edit));
    // A head that changes what the base decides is a governance change, used or not.
    decision.raise(trust.overridden);
    context.tier = Some(decision.tier);
    context.tier_reasons = decision.raised_because.clone();
    let body = match &args.pr_body {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Error::io("read the PR description", path, e))?,
        ),
        None => pull.pull().map(|p| p.body.clone()),
    };
    context.artifacts =
        check_artifacts(repo, policy, decision.tier, &new, (merge_base, head), body)?;
    let on_github = pull.session.as_ref().zip(pull.pull());
    context.approvals = Some(approvals(
        policy,
        decision.tier,
        on_github,
        (repo, base, head),
    ));
    if let (Some(shard), Some(dir)) = (&args.shard, &args.out) {
        write_shard(dir, shard, &context, &inputs)?;
    }
    let secret_vars = [&base_config, &head_config, &old_config]
        .into_iter()
        .flatten()
        .flat_map(|c| c.config.provider.values())
        .filter_map(|p| p.get_ref().api_key_env.clone())
        .collect();
    Ok(Checked {
        report: gate::decide(context, surfaces),
        changes: Some(changes),
        sides,
        secret_vars,
    })
}

/// The rules a judged surface fails on the suite as it stood on the base, each a reason
/// to raise the tier.
fn hidden_by_suite_edit(surface: &gate::SurfaceReport) -> Vec<String> {
    surface
        .against_base_suite
        .iter()
        .flat_map(|against| &against.failed_rules)
        .map(|rule| {
            format!(
                "surface `{}`: against the suite as it stood on base, {}",
                surface.name,
                rule.describe()
            )
        })
        .collect()
}

/// The response cache, never reading an entry that git tracks on either side: a pull
/// request can commit files there, and a cached answer must be one promptgate received.
fn response_cache(
    args: &CheckArgs,
    root: &Path,
    commits: [&TreeSnapshot<'_>; 2],
    context: &mut Context,
) -> Result<Cache> {
    let dir = match &args.cache_dir {
        // Relative to where promptgate runs, as the flag reads; made absolute so the checks
        // below see whether it lies in the checkout.
        Some(dir) if dir.is_relative() => std::env::current_dir()
            .map_err(|e| Error::io("read", "the current directory", e))?
            .join(dir),
        Some(dir) => dir.clone(),
        None => root.join(crate::eval::cache::DEFAULT_DIR),
    };
    // A cache reached through a symlink is wherever the link points: a pull request can
    // commit such a link next to answers of its own, so nothing there is read.
    let through_link = dir
        .strip_prefix(root)
        .ok()
        .map(|relative| {
            relative.ancestors().any(|part| {
                !part.as_os_str().is_empty()
                    && std::fs::symlink_metadata(root.join(part))
                        .is_ok_and(|m| m.file_type().is_symlink())
            })
        })
        .unwrap_or(false);
    if through_link {
        context.notes.push(format!(
            "the response cache {} is reached through a symbolic link, which a pull request can commit: no cached answer was read or written there",
            dir.display()
        ));
        // Nor is anything written through the link: fresh answers go to a private place.
        let private = std::env::temp_dir().join(format!("promptgate-cache-{}", std::process::id()));
        return Ok(Cache::new(private, false));
    }
    let cache = Cache::new(&dir, !args.no_cache);
    let Some(relative) = dir
        .strip_prefix(root)
        .ok()
        .and_then(|p| p.to_str())
        .map(|p| p.replace('\\', "/"))
    else {
        return Ok(cache);
    };
    let mut tracked = std::collections::HashSet::new();
    for commit in commits {
        commit.walk(&relative, &mut |path, _| {
            tracked.insert(root.join(path));
        })?;
    }
    if tracked.is_empty() {
        return Ok(cache);
    }
    context.notes.push(format!(
        "{} file(s) under {relative} are tracked by git: a pull request can write them, so they were not read as cached answers (add `{relative}` to .gitignore and `git rm -r --cached {relative}`)",
        tracked.len()
    ));
    Ok(cache.distrusting(tracked))
}

/// Affected surfaces whose rollback drill is overdue (per the base's drill records): a
/// note, or a blocker when `[drill] overdue = "block"`.
fn drill_notes(
    policy: &Config,
    base: &TreeSnapshot<'_>,
    plans: &[Plan<'_>],
    context: &mut Context,
) -> Result<()> {
    let records = crate::drill::records::list(base)?;
    let today = crate::util::time::today();
    for plan in plans.iter().filter(|p| p.change == SurfaceChange::Modified) {
        if let Some(reason) =
            crate::drill::records::overdue(&records, &plan.name, policy.drill.every_days, &today)
        {
            match policy.drill.overdue {
                config::Overdue::Warn => context
                    .notes
                    .push(format!("rollback drill overdue: {reason}")),
                config::Overdue::Block => context
                    .blockers
                    .push(format!("rollback drill overdue: {reason}")),
            }
        }
    }
    Ok(())
}

/// A parsed config and its text, read from a revision.
struct RevConfig {
    origin: String,
    bytes: Vec<u8>,
    config: Config,
}

/// The config at a revision: `None` when absent; an invalid one stops the gate (it cannot
/// be trusted to mean anything).
fn read_config(snapshot: &TreeSnapshot<'_>, path: &str, side: &str) -> Result<Option<RevConfig>> {
    let Some(FileEntry::File(bytes)) = snapshot.read(path)? else {
        return Ok(None);
    };
    let origin = format!("{path}@{}", snapshot.describe());
    let loaded = config::load(&origin, &bytes).map_err(|diagnostics| {
        let mut all = vec![Diagnostic::error(
            &origin,
            format!("the {side} config is invalid, so the gate cannot be applied"),
        )
        .with_help("fix the config (see the errors below); the gate fails closed until it parses")];
        all.extend(diagnostics);
        Error::Invalid(all)
    })?;
    Ok(Some(RevConfig {
        origin,
        bytes,
        config: loaded.config,
    }))
}

fn changed_files(changes: &ChangeSet) -> Vec<ChangedFile> {
    changes
        .changes
        .iter()
        .map(|c| ChangedFile {
            status: report::status_word(c),
            path: c.path.clone(),
            old_path: c.old_path.clone(),
            surfaces: c.surfaces.clone(),
        })
        .collect()
}

/// An affected surface and its definitions on each side.
struct Plan<'c> {
    name: String,
    change: SurfaceChange,
    /// The definition the surface is judged by: the base's, or the head's when new.
    policy: &'c Surface,
    head: Option<&'c Surface>,
    changed_files: Vec<String>,
    /// Added on the base branch after this branch started: measured with the base's
    /// definition on the head's files.
    behind: bool,
}

impl Plan<'_> {
    fn definition(&self) -> &Surface {
        self.policy
    }
}

fn plan_surfaces<'c>(
    changes: &ChangeSet,
    base: Option<&'c Config>,
    merge_base: Option<&'c Config>,
    head: Option<&'c Config>,
) -> Vec<Plan<'c>> {
    let find = |config: Option<&'c Config>, name: &str| config.and_then(|c| c.surface_named(name));
    changes
        .surfaces
        .iter()
        .filter_map(|name| {
            let (in_base, in_head) = (find(base, name), find(head, name));
            // A surface the base branch added after the branch started is measured on the
            // head as the base defines it (no base side to compare).
            let behind = in_base.is_some() && in_head.is_none() && find(merge_base, name).is_none();
            let in_head = if behind { in_base } else { in_head };
            let change = match (in_base, in_head) {
                (Some(_), Some(_)) if behind => SurfaceChange::Added,
                (Some(_), Some(_)) => SurfaceChange::Modified,
                (None, Some(_)) => SurfaceChange::Added,
                (Some(_), None) => SurfaceChange::Removed,
                (None, None) => return None,
            };
            let changed_files = changes
                .changes
                .iter()
                .filter(|c| c.surfaces.contains(name))
                .map(|c| c.path.clone())
                .collect();
            Some(Plan {
                name: name.clone(),
                change,
                policy: in_base.or(in_head)?,
                head: in_head,
                changed_files,
                behind,
            })
        })
        .collect()
}

struct EvalPlan<'a, 'c> {
    plans: &'a [Plan<'c>],
    trust: &'a mut Trust,
    /// Old path → new path, for every rename the change set found.
    renames: &'a BTreeMap<String, String>,
    policy: &'c Config,
    old_config: Option<&'c Config>,
    old: &'a dyn Snapshot,
    new: &'a dyn Snapshot,
    /// Where replay cassettes are read: the base branch's commit (a pull request cannot
    /// write it), or the head's under `--trust-head`.
    cassettes: &'a dyn Snapshot,
    cache: Cache,
    /// Where commands run: a copy of the base branch's files, so a command the base
    /// defines runs the base's code (`None` under `--trust-head`: the working tree).
    commands: Option<&'a Path>,
    /// The commit whose files `commands` gets, written only when a command will run.
    commands_commit: Option<git2::Oid>,
    repo: &'a Repo,
    config_path: &'a str,
    root: &'a Path,
    args: &'a CheckArgs,
    context: &'a mut Context,
}

type Sides = Vec<(String, &'static str, Vec<CaseSummary>)>;

/// Where one surface's targets sit in the run.
#[derive(Default)]
struct Slots {
    /// The base's prompts on the head's cases.
    base: Option<usize>,
    head: Option<usize>,
    /// Base and head on the suite as it stood on the base (only when the change edits it).
    base_suite: Option<(usize, usize)>,
}

/// One surface made ready: its targets' slots and what loading learned.
#[derive(Default)]
struct Prepared {
    slots: Slots,
    settings: gate::model::SidePair<SideSettings>,
    suite_changes: Vec<CaseChange>,
    notes: Vec<String>,
}

/// The run's targets, with the endpoints each side may use.
struct Loader<'p, 'a, 'c> {
    plan: &'p mut EvalPlan<'a, 'c>,
    endpoints: BTreeMap<(Side, String), Arc<Endpoint>>,
    /// The base's providers as written, grading `llm-rubric` for both sides alike.
    judges: BTreeMap<String, Option<Arc<Endpoint>>>,
    targets: Vec<Target>,
    problems: Vec<Problem>,
}

/// Loads both sides of every gated surface, runs them in one go and pairs the results.
/// Each side runs with its own prompts, model and parameters; both are graded on the
/// head's cases (paired by id). When the change edits the suite, both sides' outputs are
/// also graded against the suite as it stood on the base (identical requests are answered
/// once, so this costs only the calls for cases the head removed or rewrote).
fn evaluate(mut plan: EvalPlan<'_, '_>) -> Result<(Vec<SurfaceInput>, Sides)> {
    let mut loader = Loader {
        plan: &mut plan,
        endpoints: BTreeMap::new(),
        judges: BTreeMap::new(),
        targets: Vec::new(),
        problems: Vec::new(),
    };
    let plans = loader.plan.plans;
    let prepared: Vec<Prepared> = plans.iter().map(|s| loader.prepare(s)).collect();
    let Loader {
        targets, problems, ..
    } = loader;
    let mut errors = Vec::new();
    let mut blockers = Vec::new();
    for problem in problems {
        // Both sides can fail alike (a missing key): each reason is said once.
        match problem {
            Problem::Error(message) if !errors.contains(&message) => errors.push(message),
            Problem::Blocker(message) if !blockers.contains(&message) => blockers.push(message),
            _ => {}
        }
    }
    // Nothing is spent on evals when the gate could not measure anyway.
    let measurable = errors.is_empty() && plan.context.errors.is_empty();
    plan.context.errors.extend(errors);
    plan.context.blockers.extend(blockers);
    let share_answers = prepared.iter().any(|p| p.slots.base_suite.is_some());
    let results = if targets.is_empty() || !measurable {
        Vec::new()
    } else {
        if let (Some(dir), Some(commit)) = (plan.commands, plan.commands_commit) {
            // Written only when a command will run.
            if targets.iter().any(runs_commands) || plan.policy.gate.grader.is_some() {
                plan.repo.export(commit, dir)?;
            }
        }
        run_targets(targets, &plan, share_answers)?
    };
    let mut sides: Sides = Vec::new();
    let mut inputs = Vec::new();
    for (surface, prepared) in plan.plans.iter().zip(prepared) {
        let take = |slot: Option<usize>| slot.and_then(|i| results.get(i).cloned());
        let (base, head) = (take(prepared.slots.base), take(prepared.slots.head));
        for (label, side) in [("base", &base), ("head", &head)] {
            if let Some(side) = side {
                sides.push((surface.name.clone(), label, side.cases.clone()));
            }
        }
        let base_suite = prepared.slots.base_suite.and_then(|(b, h)| {
            take(Some(b))
                .zip(take(Some(h)))
                .map(|(base, head)| gate::model::BaseSuiteSides { base, head })
        });
        inputs.push(SurfaceInput {
            name: surface.name.clone(),
            change: surface.change,
            changed_files: surface.changed_files.clone(),
            gated: surface.policy.gate,
            thresholds: thresholds(plan.policy, surface.policy),
            base,
            head,
            settings: prepared.settings,
            suite_changes: prepared.suite_changes,
            base_suite,
            notes: prepared.notes,
        });
    }
    Ok((inputs, sides))
}

impl Loader<'_, '_, '_> {
    /// Loads one surface's sides and queues its targets.
    fn prepare(&mut self, surface: &Plan<'_>) -> Prepared {
        let mut prepared = Prepared::default();
        if surface.behind {
            // Its suite and prompts on this branch are the branch's own: nothing the base
            // decided could be measured.
            self.problems.push(Problem::Error(format!(
                "surface `{}` was added on the base branch after this branch started, and the change touches its files; rebase onto the base branch so the gate can measure the change against it",
                surface.name
            )));
            return prepared;
        }
        if !surface.policy.gate || surface.change == SurfaceChange::Removed {
            return prepared;
        }
        // The base side is read as the merge base defined it, if it did.
        let base_definition = (surface.change == SurfaceChange::Modified).then(|| {
            self.plan
                .old_config
                .and_then(|c| c.surface_named(&surface.name))
                .unwrap_or(surface.policy)
        });
        // The head is measured with the base's file mapping (the trust model).
        let head_definition = surface.head.map(|definition| {
            self.plan
                .trust
                .head_surface(base_definition, definition, self.plan.renames)
        });
        let plan = &*self.plan;
        let head = head_definition.as_ref().map(|definition| {
            (
                definition,
                load_suite(plan, surface, definition, plan.new, "head"),
            )
        });
        let base = base_definition.map(|definition| {
            (
                definition,
                load_suite(plan, surface, definition, plan.old, "base"),
            )
        });
        let (head, base) = match (head, base) {
            (Some((hd, Ok(h))), None) => ((hd, h), None),
            (Some((hd, Ok(h))), Some((bd, Ok(b)))) => ((hd, h), Some((bd, b))),
            (head, base) => {
                // A side that could not be loaded says why; the other is not run alone.
                for (_, side) in head.into_iter().chain(base) {
                    if let Err(problem) = side {
                        self.problems.push(problem);
                    }
                }
                return prepared;
            }
        };
        let (head_definition, head_suite) = head;
        let base_cases = base.as_ref().map_or(&[][..], |(_, b)| &b.cases[..]);
        let waiting =
            self.plan
                .trust
                .waiting_commands(&surface.name, base_cases, &head_suite.cases);
        if !waiting.is_empty() {
            self.problems
                .extend(waiting.into_iter().map(Problem::Error));
            return prepared;
        }
        let Some((base_definition, base_suite)) = base else {
            // Added by the change: judged alone.
            prepared.slots.head = self.queue(
                surface,
                head_definition,
                head_suite,
                Side::Head,
                &mut prepared.settings.head,
            );
            return prepared;
        };
        prepared.suite_changes = case_diff::compare(&base_suite.cases, &head_suite.cases);
        let (base_on_head, left_out) = base_suite.with_cases(&head_suite.cases);
        prepared.notes.extend(left_out_note(
            &left_out,
            "of the head cannot be rendered by the base's prompt, so they are compared on the head only",
        ));
        let against =
            (!prepared.suite_changes.is_empty()).then(|| head_suite.with_cases(&base_suite.cases));
        prepared.slots.base = self.queue(
            surface,
            base_definition,
            base_on_head,
            Side::Base,
            &mut prepared.settings.base,
        );
        let mut ignored = None;
        if let Some((head_on_base, left_out)) = against {
            prepared.notes.extend(left_out_note(
                &left_out,
                "of the base's suite cannot be rendered by the head's prompt, so the comparison against the base's suite leaves them out",
            ));
            let base_side = self.queue(
                surface,
                base_definition,
                base_suite,
                Side::Base,
                &mut ignored,
            );
            let head_side = self.queue(
                surface,
                head_definition,
                head_on_base,
                Side::Head,
                &mut ignored,
            );
            prepared.slots.base_suite = base_side.zip(head_side);
        }
        prepared.slots.head = self.queue(
            surface,
            head_definition,
            head_suite,
            Side::Head,
            &mut prepared.settings.head,
        );
        prepared
    }

    /// Queues a suite on its side's endpoint; records what the side's calls use.
    fn queue(
        &mut self,
        surface: &Plan<'_>,
        definition: &Surface,
        suite: Suite,
        side: Side,
        settings: &mut Option<SideSettings>,
    ) -> Option<usize> {
        match self.target(surface, definition, suite, side) {
            Ok((target, used)) => {
                *settings = Some(used);
                self.targets.push(target);
                Some(self.targets.len() - 1)
            }
            Err(problem) => {
                self.problems.push(problem);
                None
            }
        }
    }

    fn target(
        &mut self,
        surface: &Plan<'_>,
        definition: &Surface,
        suite: Suite,
        side: Side,
    ) -> std::result::Result<(Target, SideSettings), Problem> {
        let plan = &*self.plan;
        let provider = definition
            .provider
            .as_ref()
            .map(|p| p.get_ref().clone())
            .ok_or_else(|| Problem::Error(format!("surface `{}` has no provider", surface.name)))?;
        if let Some(why) = plan.trust.refused(side, &provider) {
            return Err(Problem::Error(format!("surface `{}`: {why}", surface.name)));
        }
        let endpoint = match self.endpoints.get(&(side, provider.clone())) {
            Some(endpoint) => endpoint.clone(),
            None => {
                let endpoint = providers::connect_with(
                    plan.trust.providers(side),
                    &provider,
                    plan.root,
                    false,
                    Some(plan.cassettes),
                )
                .map_err(|message| {
                    Problem::Error(format!("surface `{}`: {message}", surface.name))
                })?;
                let endpoint = Arc::new(in_dir(endpoint, plan.commands));
                self.endpoints
                    .insert((side, provider.clone()), endpoint.clone());
                endpoint
            }
        };
        let request = runner::build_request(&endpoint, suite.params(), Vec::new());
        if side == Side::Head {
            let unsent = plan.trust.unsent_parameters(&request.params);
            if !unsent.is_empty() {
                return Err(Problem::Blocker(format!(
                    "surface `{}`: the head sets request parameter(s) `{}`, which are not sampling parameters (they could reroute or multiply the calls); set only {} in front matter or `parameters`",
                    surface.name,
                    unsent.join("`, `"),
                    gate::trust::SAMPLING_PARAMETERS.join(", ")
                )));
            }
        }
        let prices = PriceTable::new(plan.policy.price.clone());
        // A provider's own price is for the model the base configures on it; a side that
        // runs another model is priced at that model's price.
        let base_model = plan
            .policy
            .provider
            .get(&provider)
            .and_then(|p| p.get_ref().model.clone());
        let price = endpoint
            .price_override
            .filter(|_| base_model.as_deref() == Some(request.model.as_str()))
            .or_else(|| prices.lookup(&request.model));
        if price.is_none() && endpoint.billed && plan.policy.gate.max_cost_usd.is_some() {
            return Err(Problem::Error(format!(
                "surface `{}`: the {} side calls model `{}`, which has no known price, so `[gate] max_cost_usd` cannot be kept; add `[price.\"{}\"]` to the base branch's config",
                surface.name,
                side.as_str(),
                request.model,
                request.model
            )));
        }
        let gate = &plan.policy.gate;
        let repeat = surface
            .policy
            .repeat
            .as_ref()
            .map_or(*gate.repeat.get_ref(), |r| *r.get_ref());
        let quorum = gate
            .quorum
            .as_ref()
            .map_or(runner::default_quorum(repeat), |q| *q.get_ref());
        // The judge of `llm-rubric` is the base surface's provider as the base writes it,
        // whichever provider a side runs on: a head cannot pick its judge.
        let provider_name = surface
            .policy
            .provider
            .as_ref()
            .map_or_else(|| provider.clone(), |p| p.get_ref().clone());
        let settings = SideSettings {
            provider,
            model: request.model,
            parameters: request.params,
        };
        let judge = self
            .judges
            .entry(provider_name.clone())
            .or_insert_with(|| {
                providers::connect_with(
                    plan.policy,
                    &provider_name,
                    plan.root,
                    false,
                    Some(plan.cassettes),
                )
                .ok()
                .map(|judge| Arc::new(in_dir(judge, plan.commands)))
            })
            .clone();
        let target = Target {
            suite,
            endpoint,
            judge,
            repeat,
            quorum: quorum.min(repeat),
            price,
        };
        Ok((target, settings))
    }
}

/// Says which cases one side's prompt could not render, if any.
fn left_out_note(ids: &[String], why: &str) -> Option<String> {
    (!ids.is_empty()).then(|| format!("{} case(s) {why}: {}", ids.len(), ids.join(", ")))
}

/// Whether a target runs local commands: an `exec` provider or `exec` assertions.
fn runs_commands(target: &Target) -> bool {
    target.endpoint.kind == "exec"
        || target.judge.as_ref().is_some_and(|j| j.kind == "exec")
        || target.suite.cases.iter().any(|c| {
            c.assertions
                .iter()
                .any(|a| a.kind == crate::eval::assertions::Kind::Exec)
        })
}

/// An endpoint whose command (an `exec` provider) runs in `dir`, when given.
fn in_dir(mut endpoint: Endpoint, dir: Option<&Path>) -> Endpoint {
    if let (Some(dir), providers::Client::Exec(_)) = (dir, &endpoint.client) {
        if let providers::Client::Exec(exec) = endpoint.client {
            endpoint.client = providers::Client::Exec(exec.in_dir(dir.to_path_buf()));
        }
    }
    endpoint
}

/// Why a side could not be loaded.
enum Problem {
    /// The gate cannot measure (fails closed).
    Error(String),
    /// The change is broken (a head prompt that does not render…).
    Blocker(String),
}

/// One side's suite (prompts and cases) as `definition` maps it in `snapshot`.
fn load_suite(
    plan: &EvalPlan<'_, '_>,
    surface: &Plan<'_>,
    definition: &Surface,
    snapshot: &dyn Snapshot,
    side: &'static str,
) -> std::result::Result<Suite, Problem> {
    let loaded = suite::load(snapshot, plan.config_path, definition).map_err(|e| {
        Problem::Error(format!(
            "surface `{}`: cannot read the {side} side: {e}",
            surface.name
        ))
    })?;
    let mut problems = loaded.error_messages();
    if problems.is_empty() && loaded.suite.is_none() {
        // Nothing is wrong, and still nothing to run: say what was found instead.
        problems = loaded.diagnostics.iter().map(ToString::to_string).collect();
        if problems.is_empty() {
            problems.push(format!(
                "no prompt file of surface `{}` can be rendered in {}",
                surface.name,
                snapshot.describe()
            ));
        }
    }
    loaded.suite.filter(|_| problems.is_empty()).ok_or_else(|| {
        let message = format!(
            "surface `{}`: the {side} side's prompts or cases are invalid:\n{}",
            surface.name,
            problems.join("\n")
        );
        // A broken head is the change's fault; a broken base means the gate cannot measure
        // what the change replaces.
        if side == "head" {
            Problem::Blocker(message)
        } else {
            Problem::Error(message)
        }
    })
}

fn run_targets(
    targets: Vec<Target>,
    plan: &EvalPlan<'_, '_>,
    share_answers: bool,
) -> Result<Vec<SideResult>> {
    let (policy, args) = (plan.policy, plan.args);
    // `[gate] grader` judges every `llm-rubric`, both sides, as the base configures it.
    let grader = match &policy.gate.grader {
        Some(name) => Some(Arc::new(in_dir(
            providers::connect_with(
                policy,
                name.get_ref(),
                plan.root,
                false,
                Some(plan.cassettes),
            )
            .map_err(|message| Error::invalid(Diagnostic::error(plan.config_path, message)))?,
            plan.commands,
        ))),
        None => None,
    };
    let options = Options {
        cache: plan.cache.clone(),
        command_dir: plan.commands.map(Path::to_path_buf),
        shard: args
            .shard
            .as_deref()
            .map(Shard::parse)
            .transpose()
            .map_err(Error::usage)?,
        max_cost_usd: policy.gate.max_cost_usd.as_ref().map(|b| *b.get_ref()),
        grader,
        prices: PriceTable::new(policy.price.clone()),
        on_progress: None,
        keep_outputs: true,
        share_answers,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    let result = runtime.block_on(runner::run(targets, options, |_| {}));
    Ok(result.surfaces.into_iter().map(SideResult::from).collect())
}

fn thresholds(policy: &Config, surface: &Surface) -> Thresholds {
    let value = |v: &Option<toml::Spanned<f64>>| v.as_ref().map(|v| *v.get_ref());
    Thresholds {
        min_pass_rate: value(&surface.min_pass_rate),
        max_drop: value(&surface.max_drop),
        tail_min_pass_rate: value(&surface.tail_min_pass_rate),
        metrics: surface.metrics.iter().map(|m| m.get_ref().into()).collect(),
        significance: *policy.gate.significance.get_ref(),
    }
}

/// The artifacts the tier requires, from change records added or modified by the change
/// and from the PR description.
fn check_artifacts(
    repo: &Repo,
    policy: &Config,
    tier: Tier,
    head: &TreeSnapshot<'_>,
    (merge_base, head_oid): (git2::Oid, git2::Oid),
    pr_body: Option<String>,
) -> Result<Vec<artifacts::ArtifactStatus>> {
    let required = policy.required_artifacts(tier);
    if required.is_empty() {
        return Ok(Vec::new());
    }
    let mut texts: Vec<(String, String)> = Vec::new();
    if let Some(body) = pr_body {
        texts.push(("PR description".into(), body));
    }
    texts.extend(changeset::change_records(repo, merge_base, head_oid, head)?);
    let documents: Vec<Document<'_>> = texts
        .iter()
        .map(|(source, markdown)| Document { source, markdown })
        .collect();
    Ok(artifacts::check(
        &required,
        &documents,
        &Headings::default(),
    ))
}

/// Approvals needed for the tier, and those given on the pull request (none without one).
/// An approve comment counts for the head commit it names; commit dates decide nothing.
fn approvals(
    policy: &Config,
    tier: Tier,
    on_github: Option<(&github::Session, &github::PullRequest)>,
    (repo, base, head): (&Repo, git2::Oid, git2::Oid),
) -> Approvals {
    let tier_policy = (tier != Tier::SelfApproved)
        .then(|| policy.tier.get(tier))
        .flatten()
        .map(|t| t.get_ref());
    let required = tier_policy.map_or(if tier == Tier::SelfApproved { 0 } else { 1 }, |t| {
        *t.min_approvals.get_ref()
    });
    let mut approvals = Approvals {
        tier,
        required,
        approved_by: Vec::new(),
        missing: required,
        approvers: tier_policy
            .map(|t| t.approvers.iter().map(|a| a.get_ref().clone()).collect())
            .unwrap_or_default(),
        note: None,
        not_counted: Vec::new(),
    };
    if required == 0 {
        return approvals;
    }
    let Some((session, pr)) = on_github else {
        approvals.note = Some("no pull request context: approvals are read from GitHub when the gate runs on a pull request".into());
        return approvals;
    };
    let given = session
        .reviews(pr.number)
        .and_then(|reviews| Ok((reviews, session.comments(pr.number)?)));
    let (reviews, comments) = match given {
        Ok(given) => given,
        Err(error) => {
            approvals.note = Some(format!(
                "approvals could not be read, so none count: {error}"
            ));
            return approvals;
        }
    };
    let allow_stale = policy.policy.allows_stale_approvals();
    // With stale approvals allowed, an approve comment may name an earlier commit of the
    // pull request: one reachable from the head and not from the base (a bounded walk; a
    // walk that fails leaves only the head, which fails closed).
    let earlier: Vec<String> = if allow_stale {
        let raw = repo.raw();
        raw.revwalk()
            .and_then(|mut walk| {
                walk.push(head)?;
                walk.hide(base)?;
                Ok(walk
                    .take(10_000)
                    .filter_map(std::result::Result::ok)
                    .filter(|&c| c != head)
                    .map(|c| c.to_string())
                    .collect())
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let head = head.to_string();
    let tally = github::approvals::tally(
        &github::approvals::Inputs {
            approvers: &approvals.approvers,
            author: &pr.author,
            head_sha: &head,
            allow_stale,
            earlier_commits: &earlier,
            reviews: &reviews,
            comments,
        },
        |org, team, login| session.membership(org, team, login),
    );
    approvals.missing = required.saturating_sub(tally.approved_by.len() as u32);
    approvals.approved_by = tally.approved_by;
    approvals.not_counted = tally.not_counted;
    approvals
}

/// What one `--shard K/N` run leaves for `promptgate merge`: the context and the partial
/// inputs, before judging.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ShardFile {
    pub schema_version: u32,
    pub shard: String,
    pub context: Context,
    pub inputs: Vec<SurfaceInput>,
}

/// The name of the shard file in `--out DIR`.
pub const SHARD_FILE: &str = "shard.json";

fn write_shard(dir: &Path, shard: &str, context: &Context, inputs: &[SurfaceInput]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let file = ShardFile {
        schema_version: crate::gate::SCHEMA_VERSION,
        shard: shard.to_string(),
        context: context.clone(),
        inputs: inputs.to_vec(),
    };
    let path = dir.join(SHARD_FILE);
    let text = serde_json::to_string(&file)
        .map_err(|e| Error::io("write", &path, std::io::Error::other(e)))?;
    std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))
}

/// Writes the reports into `out` (when given) and prints the chosen format; returns the
/// verdict comment's Markdown.
pub(super) fn emit(
    cli: &Cli,
    out: Option<&Path>,
    format: Format,
    checked: &Checked,
) -> Result<String> {
    let markdown = report::markdown::verdict(&checked.report, checked.changes.as_ref());
    if let Some(dir) = out {
        write_dir(dir, checked, &markdown)?;
    }
    let text = match format {
        Format::Json => report::json::report(&checked.report),
        Format::Markdown => markdown.clone(),
        Format::Text => report::terminal::verdict(
            &checked.report,
            report::terminal::Style {
                color: use_color(cli.color),
            },
        ),
    };
    print!("{text}");
    Ok(markdown)
}

fn write_dir(dir: &Path, checked: &Checked, markdown: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let files = [
        ("report.json", report::json::report(&checked.report)),
        ("report.md", markdown.to_string()),
        ("junit.xml", report::junit::render(&checked.sides)),
        (
            "prompts.diff",
            checked
                .changes
                .as_ref()
                .map(report::unified::change_set)
                .unwrap_or_default(),
        ),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(())
}
