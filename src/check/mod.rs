//! The gate as one library call, [`check`]: resolves base, head and merge base; reads the
//! policy from the base (trust model); builds the change set; evaluates every affected
//! surface on both sides in one run (cache first); checks artifacts, tier and approvals;
//! and decides the verdict. It takes a [`CheckRequest`] (no flags, no environment) and a
//! [`PullSource`], and whatever stops it midway becomes an `error` verdict with the reason,
//! never a pass. The staged checks of the pre-commit hook and the merging of shards live
//! here too, so every way in applies the same rules, and so do a finished check's GitHub
//! Actions step outputs ([`Checked::actions_outputs`]).

mod cache;
mod plan;
pub mod pull;
pub mod range;
pub mod shard;
mod sides;
mod signoff;
pub mod staged;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::changeset::{self, ChangeSet, ConfigSource};
use crate::config::{self, Tier};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::run::CaseSummary;
use crate::gate::trust::{HeadTrust, Trust};
use crate::gate::{self, Context, Report};
use crate::git::Repo;
use crate::github;
use crate::report;

pub use pull::{GithubPull, Local, PullSource};
pub use shard::{ShardFile, SHARD_FILE};

/// One gate run, as the command line, a hook or a test asks for it.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// The revision the change is compared against; `None`: the pull request's base, a
    /// push event's `before`, else the remote's default branch.
    pub base: Option<String>,
    /// The revision holding the change; `None`: the pull request's head, a push event's
    /// `after`, else `HEAD`.
    pub head: Option<String>,
    /// The config's path in the repository.
    pub config_path: String,
    /// A file holding the pull request description, searched for the artifacts (else the
    /// pull request's own body).
    pub pr_body: Option<PathBuf>,
    /// Where responses are cached (absolute; `None`: `.promptgate/cache` in the checkout).
    pub cache_dir: Option<PathBuf>,
    /// Whether cached responses are read (fresh ones are always stored).
    pub read_cache: bool,
    /// `K/N`: run only this shard of the cases, leaving a [`ShardFile`] for `merge`.
    pub shard: Option<String>,
    /// Whether a maintainer vouched for the head (`--trust-head`).
    pub head_trust: HeadTrust,
    /// A local hook's run: missing artifacts only warn unless the base's `[hooks]
    /// artifacts = "require"` (the pull request's description may hold them).
    pub local_hook: bool,
}

/// A finished check: the report, and what the other outputs draw on.
pub struct Checked {
    pub report: Report,
    pub changes: Option<ChangeSet>,
    /// Every evaluated side's cases, for JUnit: (surface, "base" | "head", cases).
    pub sides: Vec<(String, &'static str, Vec<CaseSummary>)>,
    /// The variables the configs read API keys from: their values are redacted.
    pub secret_vars: Vec<String>,
    /// Warnings about the config or the change set, for the reader's terminal.
    pub warnings: Vec<Diagnostic>,
    /// What the change was measured against, when the base was not given.
    pub base_note: Option<String>,
    /// With a shard: what `merge` needs from this one.
    pub shard: Option<ShardFile>,
}

impl Checked {
    /// A gate that could not finish: `error`, with what went wrong and how to fix it.
    pub fn failed(error: &Error) -> Checked {
        let context = Context {
            errors: vec![error.to_string()],
            ..Context::default()
        };
        Checked::decided(gate::decide(context, Vec::new()), None)
    }

    fn decided(report: Report, changes: Option<ChangeSet>) -> Checked {
        Checked {
            report,
            changes,
            sides: Vec::new(),
            secret_vars: Vec::new(),
            warnings: Vec::new(),
            base_note: None,
            shard: None,
        }
    }

    /// Every secret value promptgate knows of, redacted from the report and the cases
    /// (model outputs and grader messages can carry one).
    pub fn redact(&mut self) {
        let secrets = crate::secrets::Secrets::from_env(self.secret_vars.iter().cloned());
        self.report = secrets.redacted(self.report.clone());
        for (_, _, cases) in &mut self.sides {
            *cases = secrets.redacted(std::mem::take(cases));
        }
    }

    /// Writes `report.json`, `report.md` (`markdown`), `junit.xml` and `prompts.diff`.
    pub fn write_files(&self, dir: &Path, markdown: &str) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let files = [
            ("report.json", report::json::report(&self.report)),
            ("report.md", markdown.to_string()),
            ("junit.xml", report::junit::render(&self.sides)),
            (
                "prompts.diff",
                self.changes
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

    /// In GitHub Actions: the report in the step summary, `verdict`, `exit-code` (`code`)
    /// and `report` as step outputs; the report files go to `out`, else to a `promptgate`
    /// directory in the runner's temporary directory. Returns the `::error` workflow
    /// commands on each prompt file behind a failed rule, for the caller to print.
    pub fn actions_outputs(
        &self,
        env: &github::Env,
        out: Option<&Path>,
        markdown: &str,
        code: i32,
    ) -> Result<Vec<String>> {
        let dir = match out {
            Some(dir) => dir.to_path_buf(),
            None => {
                let dir = env
                    .runner_temp
                    .clone()
                    .unwrap_or_else(std::env::temp_dir)
                    .join("promptgate");
                self.write_files(&dir, markdown)?;
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
                    ("verdict", self.report.verdict.as_str().to_string()),
                    ("exit-code", code.to_string()),
                    ("report", dir.join("report.json").display().to_string()),
                ],
            )?;
        }
        Ok(github::actions::annotations(&self.report))
    }
}

/// Runs the gate. A usage mistake is an `Err`; anything else that stops it is an `error`
/// verdict saying why.
pub fn check(repo: &Repo, request: &CheckRequest, pull: &dyn PullSource) -> Result<Checked> {
    let mut checked = match gather(repo, request, pull) {
        Ok(checked) => checked,
        Err(error @ Error::Usage { .. }) => return Err(error),
        Err(error) => Checked::failed(&error),
    };
    checked.report.pull_request = pull.number();
    checked.report.pr_body = request
        .pr_body
        .as_ref()
        .map(|path| path.display().to_string());
    Ok(checked)
}

/// The range to gate: the request first, then the pull request, then a push event.
fn wanted_range(request: &CheckRequest, pull: &dyn PullSource) -> (Option<String>, String) {
    let (pr, push) = (pull.pull(), pull.pushed());
    let base = request
        .base
        .clone()
        .or_else(|| pr.map(|p| p.base_sha.clone()))
        .or_else(|| push.as_ref().and_then(|(before, _)| before.clone()));
    let head = request
        .head
        .clone()
        .or_else(|| pr.map(|p| p.head_sha.clone()))
        .or_else(|| push.as_ref().and_then(|(_, after)| after.clone()))
        .unwrap_or_else(|| "HEAD".into());
    (base, head)
}

fn gather(repo: &Repo, request: &CheckRequest, pull: &dyn PullSource) -> Result<Checked> {
    pull.ensure_commits(repo, (request.base.is_none(), request.head.is_none()))?;
    let (base_arg, head_arg) = wanted_range(request, pull);
    let range = range::resolve(repo, base_arg.as_deref(), &head_arg)?;
    let (base, head, merge_base) = (range.base, range.head, range.merge_base);
    let (base_tip, old, new) = (
        repo.tree_snapshot(base)?,
        repo.tree_snapshot(merge_base)?,
        repo.tree_snapshot(head)?,
    );
    let config_path = request.config_path.as_str();
    let base_config = plan::read_config(&base_tip, config_path, "base")?;
    let head_config = plan::read_config(&new, config_path, "head")?;
    let mapping = [&head_config, &base_config]
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| {
            Error::invalid(
                Diagnostic::error(
                    config_path,
                    "neither the base nor the head has a promptgate config",
                )
                .with_help("run `promptgate init` and commit the config"),
            )
        })?;
    let source = ConfigSource {
        origin: &mapping.origin,
        repo_path: config_path,
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
    let warnings = std::mem::take(&mut changes.warnings);
    changes.base_label = range.base_name.clone();
    changes.head_label = head_arg.clone();
    (changes.base, changes.head, changes.merge_base) = (Some(base), Some(head), Some(merge_base));
    let mut context = Context {
        base: Some(base.to_string()),
        head: Some(head.to_string()),
        merge_base: Some(merge_base.to_string()),
        pull_request: pull.number(),
        changed_files: plan::changed_files(&changes),
        ..Context::default()
    };
    if changes.changes.is_empty() {
        // Nothing a surface depends on changed: nothing to gate.
        let mut checked = Checked::decided(gate::decide(context, Vec::new()), Some(changes));
        checked.warnings = warnings;
        checked.base_note = range.defaulted;
        return Ok(checked);
    }
    let policy = base_config
        .as_ref()
        .or(head_config.as_ref())
        .map(|c| &c.config)
        .ok_or_else(|| Error::usage("no config"))?;
    let old_config = plan::read_config(&old, config_path, "merge base")
        .ok()
        .flatten();
    let plans = plan::surfaces(
        &changes,
        base_config.as_ref().map(|c| &c.config),
        old_config.as_ref().map(|c| &c.config),
        head_config.as_ref().map(|c| &c.config),
    );
    let tiers: Vec<Tier> = plans.iter().map(|p| p.policy.tier).collect();
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
    plan::drill_notes(policy, &base_tip, &plans, &mut context)?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.raw().path().to_path_buf());
    crate::secrets::guard_checkout(&root);
    let trusted = request.head_trust == HeadTrust::Trusted;
    let commands_dir = (!trusted)
        .then(tempfile::tempdir)
        .transpose()
        .map_err(|e| Error::io("create", "a directory for the base's commands", e))?;
    let mut trust = Trust::new(
        policy,
        old_config.as_ref().map(|c| &c.config),
        head_config.as_ref().map(|c| &c.config),
        request.head_trust,
    );
    if trusted {
        context.notes.push("--trust-head: a maintainer vouched for this head, so its own providers, surface file mappings and commands were used".into());
    }
    let renames: BTreeMap<String, String> = changes
        .changes
        .iter()
        .filter_map(|c| c.old_path.clone().map(|old| (old, c.path.clone())))
        .collect();
    let cache = cache::response_cache(request, &root, [&base_tip, &new], &mut context)?;
    let evaluated = sides::evaluate(sides::EvalPlan {
        plans: &plans,
        trust: &mut trust,
        renames: &renames,
        policy,
        old_config: old_config.as_ref().map(|c| &c.config),
        old: &old,
        new: &new,
        cassettes: if trusted { &new } else { &base_tip },
        cache: cache.cache,
        commands: commands_dir.as_ref().map(|d| d.path()),
        commands_commit: Some(base),
        repo,
        config_path,
        root: &root,
        shard: request.shard.as_deref(),
        context: &mut context,
    })?;
    drop(cache.private);
    let sides = evaluated.sides;
    // A shard ran every round; its own report shows the rounds one run would have taken.
    let inputs = if request.shard.is_some() && !evaluated.by_round.is_empty() {
        shard::settle(evaluated.by_round.clone())
    } else {
        evaluated.inputs
    };
    if inputs.iter().any(|i| i.look.round > 1) {
        context.notes.push(format!(
            "sequential sampling: {} model call(s) in all; {}",
            evaluated.calls,
            inputs
                .iter()
                .filter(|i| i.gated)
                .map(|i| format!(
                    "`{}` took {} of {} round(s)",
                    i.name, i.look.round, i.look.max
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Removing or weakening eval cases loosens the gate as surely as a lower threshold.
    decision.raise(
        inputs
            .iter()
            .flat_map(|i| gate::tier::case_loosenings(&i.name, &i.suite_changes)),
    );
    let surfaces: Vec<gate::SurfaceReport> =
        inputs.iter().cloned().map(gate::judge_surface).collect();
    // A suite edit that hides what the base's suite would catch is for the bar's owners.
    decision.raise(surfaces.iter().flat_map(plan::hidden_by_suite_edit));
    // A head that changes what the base decides is a governance change, used or not.
    decision.raise(trust.overridden);
    context.tier = Some(decision.tier);
    context.tier_reasons = decision.raised_because.clone();
    let body = match &request.pr_body {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Error::io("read the PR description", path, e))?,
        ),
        None => pull.pull().map(|p| p.body.clone()),
    };
    context.artifacts =
        signoff::check_artifacts(repo, policy, decision.tier, &new, (merge_base, head), body)?;
    context.artifacts_advisory =
        request.local_hook && policy.hooks.artifacts == crate::config::HookArtifacts::Warn;
    context.approvals = Some(signoff::approvals(
        policy,
        decision.tier,
        pull,
        (repo, base, head),
    ));
    let shard = request
        .shard
        .as_ref()
        .map(|shard| ShardFile::new(shard, &context, &inputs, evaluated.by_round));
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
        warnings,
        base_note: range.defaulted,
        shard,
    })
}
