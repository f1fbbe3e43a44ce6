//! Measuring the affected surfaces: each side loaded as the trust model allows (the head's
//! prompts, cases, model and parameters on the endpoints the base defines), queued as
//! targets — the base on the head's cases, the head, and both on the base's suite when
//! the change edits it — run together (cache first) and paired back per surface.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::plan::Plan;
use crate::config::{Config, Surface};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::eval::cache::Cache;
use crate::eval::case_diff::{self, CaseChange};
use crate::eval::providers::{self, Endpoint};
use crate::eval::run::{self, CaseSummary, Options, Shard, Target};
use crate::eval::side;
use crate::eval::suite::{self, Suite};
use crate::gate::model::Look;
use crate::gate::model::SideSettings;
use crate::gate::trust::{Side, Trust};
use crate::gate::{self, Context, SideResult, SurfaceChange, SurfaceInput};
use crate::git::{Repo, Snapshot};

pub(super) struct EvalPlan<'a, 'c> {
    pub plans: &'a [Plan<'c>],
    pub trust: &'a mut Trust,
    /// Old path → new path, for every rename the change set found.
    pub renames: &'a BTreeMap<String, String>,
    pub policy: &'c Config,
    pub old_config: Option<&'c Config>,
    pub old: &'a dyn Snapshot,
    pub new: &'a dyn Snapshot,
    /// Where replay cassettes are read: the base branch's commit (a pull request cannot
    /// write it), or the head's under `--trust-head`.
    pub cassettes: &'a dyn Snapshot,
    pub cache: Cache,
    /// Where commands run: a copy of the base branch's files, so a command the base
    /// defines runs the base's code (`None` under `--trust-head`: the working tree).
    pub commands: Option<&'a Path>,
    /// The commit whose files `commands` gets, written only when a command will run.
    pub commands_commit: Option<git2::Oid>,
    pub repo: &'a Repo,
    pub config_path: &'a str,
    pub root: &'a Path,
    pub shard: Option<&'a str>,
    pub context: &'a mut Context,
}

pub(super) type Sides = Vec<(String, &'static str, Vec<CaseSummary>)>;

/// Where one surface's targets sit in the run.
#[derive(Default)]
struct Slots {
    /// The base's prompts on the head's cases.
    base: Option<usize>,
    head: Option<usize>,
    /// Base and head on the suite as it stood on the base (only when the change edits it).
    base_suite: Option<(usize, usize)>,
}

impl Slots {
    /// Every slot the surface runs in.
    fn all(&self) -> Vec<usize> {
        let (suite_base, suite_head) = self.base_suite.unzip();
        [self.base, self.head, suite_base, suite_head]
            .into_iter()
            .flatten()
            .collect()
    }
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
pub(super) fn evaluate(mut plan: EvalPlan<'_, '_>) -> Result<Evaluated> {
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
    let max_rounds = *plan.policy.gate.max_repeat.get_ref();
    // Recorded answers cannot be drawn again: a surface answered from a cassette is judged
    // on the trials it recorded, in one round (its point estimate decides what is open).
    let plans_rounds: Vec<u32> = prepared
        .iter()
        .map(|p| {
            let replayed = p
                .slots
                .all()
                .iter()
                .any(|&slot| targets[slot].endpoint.kind == "replay");
            if replayed {
                1
            } else {
                max_rounds
            }
        })
        .collect();
    let mut rounds = vec![1u32; plans.len()];
    let mut by_round = Vec::new();
    let mut budget = Budget {
        left: plan.policy.gate.max_cost_usd.as_ref().map(|b| *b.get_ref()),
        calls: 0,
    };
    let mut results = if targets.is_empty() || !measurable {
        Vec::new()
    } else {
        if let (Some(dir), Some(commit)) = (plan.commands, plan.commands_commit) {
            // Written only when a command will run.
            if targets.iter().any(runs_commands) || plan.policy.gate.grader.is_some() {
                plan.repo.export(commit, dir)?;
            }
        }
        run_targets(targets.clone(), &plan, share_answers, &mut budget)?
    };
    let quorum = |slot: usize, trials: u32| -> u32 {
        let target = &targets[slot];
        match &plan.policy.gate.quorum {
            // An explicit quorum keeps its share of the trials.
            Some(_) => (u64::from(target.quorum) * u64::from(trials))
                .div_ceil(u64::from(target.repeat.max(1))) as u32,
            None => run::default_quorum(trials),
        }
    };
    if !results.is_empty() {
        // Sequential sampling: a surface whose rules the data cannot settle yet gets
        // another round of trials on every side it runs, up to `[gate] max_repeat` rounds.
        // A shard cannot see the other shards' cases, so it runs every round and `merge`
        // replays the looks on the joined data (the verdict one run gives).
        for round in 2..=max_rounds {
            let inputs = surface_inputs(&plan, &prepared, &results, &rounds, &plans_rounds);
            let due: Vec<usize> = if plan.shard.is_some() {
                by_round.push(inputs);
                (0..plans.len())
                    .filter(|&i| round <= plans_rounds[i])
                    .collect()
            } else {
                inputs
                    .into_iter()
                    .enumerate()
                    .filter(|(i, input)| {
                        // More trials cannot mend a side that lost cases: its verdict is
                        // `error` whatever the rules say.
                        let report = gate::judge_surface(input.clone());
                        report.inconclusive && report.complete && round <= plans_rounds[*i]
                    })
                    .map(|(i, _)| i)
                    .collect()
            };
            if due.is_empty() {
                break;
            }
            let slots: Vec<usize> = due.iter().flat_map(|&i| prepared[i].slots.all()).collect();
            let next = slots
                .iter()
                .map(|&slot| targets[slot].round(round))
                .collect();
            let fresh = run_targets(next, &plan, share_answers, &mut budget)?;
            for (&slot, side) in slots.iter().zip(fresh) {
                let earlier = std::mem::replace(&mut results[slot], empty_side());
                results[slot] = earlier.add_round(side, |trials| quorum(slot, trials));
            }
            for i in due {
                rounds[i] = round;
            }
        }
    }
    let inputs = surface_inputs(&plan, &prepared, &results, &rounds, &plans_rounds);
    let mut sides: Sides = Vec::new();
    for input in &inputs {
        for (label, side) in [("base", &input.base), ("head", &input.head)] {
            if let Some(side) = side {
                sides.push((input.name.clone(), label, side.cases.clone()));
            }
        }
    }
    if plan.shard.is_some() && !results.is_empty() {
        by_round.push(inputs.clone());
    }
    Ok(Evaluated {
        inputs,
        sides,
        by_round,
        calls: budget.calls,
    })
}

/// What evaluating the surfaces gives: each surface's input at its last round, every
/// evaluated side's cases (for JUnit), a shard's inputs after each round (for `merge`),
/// and the model calls made.
pub(super) struct Evaluated {
    pub inputs: Vec<SurfaceInput>,
    pub sides: Sides,
    pub by_round: Vec<Vec<SurfaceInput>>,
    pub calls: u64,
}

/// The run-wide budget left across rounds, and the calls made.
struct Budget {
    left: Option<f64>,
    calls: u64,
}

fn empty_side() -> SideResult {
    SideResult {
        cases: Vec::new(),
        complete: true,
        metrics: Default::default(),
        cost_usd: None,
        latency_ms: Default::default(),
        models_reported: Default::default(),
    }
}

/// Every surface's input from the results so far, each at its own round.
fn surface_inputs(
    plan: &EvalPlan<'_, '_>,
    prepared: &[Prepared],
    results: &[SideResult],
    rounds: &[u32],
    max_rounds: &[u32],
) -> Vec<SurfaceInput> {
    let take = |slot: Option<usize>| slot.and_then(|i| results.get(i).cloned());
    plan.plans
        .iter()
        .zip(prepared)
        .zip(rounds.iter().zip(max_rounds))
        .map(|((surface, prepared), (&round, &max))| {
            let base_suite = prepared.slots.base_suite.and_then(|(b, h)| {
                take(Some(b))
                    .zip(take(Some(h)))
                    .map(|(base, head)| gate::model::BaseSuiteSides { base, head })
            });
            SurfaceInput {
                name: surface.name.clone(),
                change: surface.change,
                changed_files: surface.changed_files.clone(),
                gated: surface.policy.gate,
                thresholds: gate::thresholds(plan.policy, surface.policy),
                base: take(prepared.slots.base),
                head: take(prepared.slots.head),
                settings: prepared.settings.clone(),
                suite_changes: prepared.suite_changes.clone(),
                base_suite,
                notes: prepared.notes.clone(),
                look: Look { round, max },
            }
        })
        .collect()
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
        // The judge of `llm-rubric` is the base surface's provider as the base writes it,
        // whichever provider a side runs on: a head cannot pick its judge.
        let provider_name = surface
            .policy
            .provider
            .as_ref()
            .map_or_else(|| provider.clone(), |p| p.get_ref().clone());
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
        let (target, sent) =
            side::target(plan.policy, surface.policy, &provider, suite, endpoint, judge).map_err(
                |unpriced| {
                    Problem::Error(format!(
                        "surface `{}`: the {} side calls model `{}`, which has no known price, so `[gate] max_cost_usd` cannot be kept; add `[price.\"{}\"]` to the base branch's config",
                        surface.name,
                        side.as_str(),
                        unpriced.model,
                        unpriced.model
                    ))
                },
            )?;
        if side == Side::Head {
            let unsent = plan.trust.unsent_parameters(&sent.parameters);
            if !unsent.is_empty() {
                return Err(Problem::Blocker(format!(
                    "surface `{}`: the head sets request parameter(s) `{}`, which are not sampling parameters (they could reroute or multiply the calls); set only {} in front matter or `parameters`",
                    surface.name,
                    unsent.join("`, `"),
                    gate::trust::SAMPLING_PARAMETERS.join(", ")
                )));
            }
        }
        let settings = SideSettings {
            provider,
            model: sent.model,
            parameters: sent.parameters,
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
                .any(|a| a.kind == crate::eval::assert::Kind::Exec)
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
    budget: &mut Budget,
) -> Result<Vec<SideResult>> {
    let policy = plan.policy;
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
        command_dir: plan.commands.map(Path::to_path_buf),
        shard: plan
            .shard
            .map(Shard::parse)
            .transpose()
            .map_err(Error::usage)?,
        grader,
        keep_outputs: true,
        share_answers,
        max_cost_usd: budget.left,
        ..side::options(policy, plan.cache.clone())
    };
    let result = side::run(targets, options, |_| {})
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    budget.calls += result.calls;
    if let (Some(left), Some(spent)) = (budget.left.as_mut(), result.spent_usd) {
        *left = (*left - spent).max(0.0);
    }
    Ok(result.surfaces.into_iter().map(SideResult::from).collect())
}
