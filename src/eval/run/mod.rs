//! The run: every (case, trial) of every selected suite becomes one model call, or one
//! cache hit. Calls run concurrently up to each provider's `concurrency`, with timeouts,
//! retries (the one retry policy of `util::http`) and a cost budget checked before each
//! call. Each trial is graded as it lands; a case is folded (quorum, flaky) when its last
//! trial lands and handed to the caller's sink, so memory holds compact summaries, not
//! outputs. A trial that still fails, or never lands, is an error, never a pass.

mod budget;
mod fold;
mod job;
mod models;
mod records;
mod shard;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use super::cache::Cache;
use super::price::PriceTable;
use super::providers::Endpoint;
use super::suite::Suite;
use crate::config::Price;
use fold::{collect, Landed};
use job::{Job, Shared};

pub use fold::{default_quorum, Accumulator};
pub use job::build_request;
pub use models::ModelsReported;
pub use records::{
    AssertionResult, CaseRecord, CaseStatus, CaseSummary, MetricScores, TrialRecord,
};
pub use shard::Shard;

/// Finished trials waiting for the collector.
const LANDED_BUFFER: usize = 256;

/// One suite to run with its provider and repeat policy.
#[derive(Clone)]
pub struct Target {
    pub suite: Suite,
    pub endpoint: Arc<Endpoint>,
    /// Who grades this target's `llm-rubric` assertions when no run-wide grader is set:
    /// the gate has both sides judged alike, by the base's provider.
    pub judge: Option<Arc<Endpoint>>,
    pub repeat: u32,
    /// Passing trials a case needs.
    pub quorum: u32,
    pub price: Option<Price>,
    /// The index of this run's first trial: a later round of the gate runs trials
    /// `first_trial..first_trial + repeat`, so its answers (and cache entries) are new ones.
    pub first_trial: u32,
}

impl Target {
    /// The same target for round `round` (1-based) of a sequential plan: its `repeat`
    /// trials come after the earlier rounds' (new answers, and new cache entries).
    pub fn round(&self, round: u32) -> Target {
        Target {
            first_trial: round.saturating_sub(1).saturating_mul(self.repeat),
            ..self.clone()
        }
    }
}

/// Run-wide settings.
pub struct Options {
    pub cache: Cache,
    pub shard: Option<Shard>,
    pub max_cost_usd: Option<f64>,
    /// The endpoint grading `llm-rubric` assertions (else each target's judge, else its
    /// own endpoint).
    pub grader: Option<Arc<Endpoint>>,
    /// Where commands (`exec` graders) run: the gate runs them in the base's files.
    pub command_dir: Option<std::path::PathBuf>,
    pub prices: PriceTable,
    /// Called with the number of finished trials, for a progress bar.
    pub on_progress: Option<Box<dyn Fn(u64) + Send + Sync>>,
    /// Keep one output per case in its summary (the gate shows both sides of a flip).
    pub keep_outputs: bool,
    /// Answer identical requests of this run with one call, even while it is in flight and
    /// even under `--no-cache` (the gate grades one head output against two suites).
    pub share_answers: bool,
}

/// A named metric: mean score of the assertions carrying it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricValue {
    pub mean: f64,
    pub count: u64,
}

/// A surface's results.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceResult {
    pub name: String,
    pub provider: String,
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub flaky: usize,
    pub pass_rate: f64,
    /// Whether every case finished (no error trial).
    pub complete: bool,
    pub metrics: BTreeMap<String, MetricValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: Latency,
    /// The model named by the most of the surface's answers (ties: the first by name);
    /// `None` when no answer named one (`exec` and older replay or cached answers).
    pub model_reported: Option<String>,
    /// How many answers named each model; written only when they named more than one.
    #[serde(skip_serializing_if = "single_model")]
    pub models_reported: ModelsReported,
    #[serde(skip)]
    pub case_summaries: Vec<CaseSummary>,
}

fn single_model(models: &ModelsReported) -> bool {
    !models.is_mixed()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: u64,
    pub p95: u64,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct RunResult {
    pub surfaces: Vec<SurfaceResult>,
    /// Model calls made by this run (cache misses).
    pub calls: u64,
    pub cache_hits: u64,
    /// Money spent by this run's calls, when every price is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spent_usd: Option<f64>,
}

impl RunResult {
    pub fn complete(&self) -> bool {
        self.surfaces.iter().all(|s| s.complete)
    }
}

/// Runs every target; `sink` receives each finished case.
pub async fn run(
    targets: Vec<Target>,
    options: Options,
    sink: impl FnMut(&CaseRecord) + Send + 'static,
) -> RunResult {
    schedule(targets, options, sink, |job, options, shared| async move {
        job.execute(&options, &shared).await
    })
    .await
}

/// [`run`] with what one trial does given as `work`: the scheduling (bounded per provider),
/// the folding, and the fail-closed handling of lost trials and of a failed collector.
async fn schedule<W, F>(
    targets: Vec<Target>,
    options: Options,
    sink: impl FnMut(&CaseRecord) + Send + 'static,
    work: W,
) -> RunResult
where
    W: Fn(Job, Arc<Options>, Arc<Shared>) -> F,
    F: Future<Output = TrialRecord> + Send + 'static,
{
    let targets: Vec<Arc<Target>> = targets.into_iter().map(Arc::new).collect();
    let options = Arc::new(options);
    let shared = Arc::new(Shared::new(options.max_cost_usd, options.share_answers));
    // Bounded, so a slow sink holds back the calls instead of buffering their outputs.
    let (tx, rx) = mpsc::channel::<Landed>(LANDED_BUFFER);
    let collector = tokio::spawn(collect(
        targets.clone(),
        options.shard,
        rx,
        sink,
        options.clone(),
    ));
    let semaphores: HashMap<String, Arc<Semaphore>> = targets
        .iter()
        .map(|t| {
            (
                t.endpoint.name.clone(),
                Arc::new(Semaphore::new(t.endpoint.concurrency.max(1))),
            )
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (t, target) in targets.iter().enumerate() {
        let semaphore = semaphores[&target.endpoint.name].clone();
        for (case, id) in target.suite.cases.iter().map(|c| &c.id).enumerate() {
            if !options
                .shard
                .is_none_or(|s| s.contains(&target.suite.surface, id))
            {
                continue;
            }
            for trial in target.first_trial..target.first_trial + target.repeat {
                let permit = match semaphore.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                };
                let job = Job {
                    target: target.clone(),
                    case,
                    trial,
                };
                let work = work(job, options.clone(), shared.clone());
                let tx = tx.clone();
                tasks.spawn(async move {
                    let record = work.await;
                    drop(permit);
                    let landed = Landed {
                        target: t,
                        case,
                        record,
                    };
                    let _ = tx.send(landed).await;
                });
                // Reap finished tasks so the set does not grow with the suite.
                while tasks.try_join_next().is_some() {}
            }
        }
    }
    drop(tx);
    while tasks.join_next().await.is_some() {}
    // A collector that failed leaves every surface incomplete (no case counted), never
    // an empty result that would read as complete.
    let mut result = collector.await.unwrap_or_else(|_| RunResult {
        surfaces: targets
            .iter()
            .map(|t| {
                let mut lost = Accumulator::for_target(t, options.shard, false)
                    .finish(&t.suite.surface, &t.endpoint.name);
                lost.complete = false;
                lost
            })
            .collect(),
        calls: 0,
        cache_hits: 0,
        spent_usd: None,
    });
    result.calls = shared.calls.load(Ordering::Relaxed);
    result.cache_hits = shared.cache_hits.load(Ordering::Relaxed);
    result.spent_usd = shared.budget.spent();
    result
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::eval::cases;
    use crate::eval::providers::{replay::Replay, Client};
    use crate::prompts::includes::Closure;
    use crate::prompts::template::Templates;

    /// A target of `cases` cases and `repeat` trials whose provider is never called.
    fn target(cases: usize, repeat: u32) -> Target {
        let prompt = "Say {{ word }}\n";
        let entry = crate::prompts::parse("p/a.md", prompt.as_bytes()).expect("prompt");
        let closure = Closure {
            files: [("p/a.md".to_string(), prompt.to_string())].into(),
            problems: vec![],
        };
        let (templates, problems) = Templates::compile(std::slice::from_ref(&entry), &closure);
        assert!(problems.is_empty(), "{problems:?}");
        let lines: String = (0..cases)
            .map(|i| format!("{{\"id\": \"c{i}\", \"vars\": {{\"word\": \"w{i}\"}}}}\n"))
            .collect();
        let cases = cases::parse("c.jsonl", lines.as_bytes()).expect("cases");
        let client = Replay::parse(Path::new("none.jsonl"), "").expect("cassette");
        Target {
            suite: Suite {
                surface: "s".into(),
                entry,
                templates: Arc::new(templates),
                case_file: "c.jsonl".into(),
                cases,
            },
            endpoint: Arc::new(Endpoint {
                name: "p".into(),
                kind: "replay",
                base_url: String::new(),
                model: "m".into(),
                params: serde_json::Map::new(),
                client: Client::Replay(client),
                concurrency: 2,
                max_retries: 0,
                billed: false,
                price_override: None,
                recorder: None,
                secret: None,
                missing_key: None,
            }),
            judge: None,
            repeat,
            quorum: default_quorum(repeat),
            price: None,
            first_trial: 0,
        }
    }

    fn options() -> Options {
        Options {
            cache: Cache::new(std::env::temp_dir().join("promptgate-never-written"), false),
            shard: None,
            max_cost_usd: None,
            grader: None,
            command_dir: None,
            prices: PriceTable::new(BTreeMap::new()),
            on_progress: None,
            keep_outputs: false,
            share_answers: false,
        }
    }

    fn passing(trial: u32) -> TrialRecord {
        let mut record = records::error_trial(trial, String::new());
        record.error = None;
        record.output = Some("ok".into());
        record.pass = true;
        record.score = 1.0;
        record
    }

    #[tokio::test]
    async fn a_panicking_trial_makes_its_case_an_error_and_the_side_incomplete() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            move |record: &CaseRecord| {
                let errors: Vec<Option<String>> =
                    record.trials.iter().map(|t| t.error.clone()).collect();
                seen.lock()
                    .expect("sink")
                    .push((record.id.clone(), record.status, errors));
            }
        };
        let result = schedule(
            vec![target(2, 3)],
            options(),
            sink,
            |job, _, _| async move {
                if job.case == 0 && job.trial == 1 {
                    panic!("a trial task fails");
                }
                passing(job.trial)
            },
        )
        .await;
        let surface = &result.surfaces[0];
        assert_eq!(
            (surface.cases, surface.passed, surface.errors),
            (2, 1, 1),
            "{surface:?}"
        );
        assert!(!surface.complete && !result.complete());
        let lost = surface.case_summaries.iter().find(|c| c.id == "c0");
        assert_eq!(
            lost.map(|c| (c.status, c.reason.as_deref())),
            Some((CaseStatus::Error, Some(fold::LOST_TRIAL)))
        );
        let mut seen = seen.lock().expect("sink").clone();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            vec![
                (
                    "c0".to_string(),
                    CaseStatus::Error,
                    vec![None, Some(fold::LOST_TRIAL.to_string()), None]
                ),
                ("c1".to_string(), CaseStatus::Pass, vec![None, None, None]),
            ]
        );
    }

    #[tokio::test]
    async fn a_panicking_collector_leaves_every_side_incomplete() {
        let sink = |_: &CaseRecord| panic!("the sink fails");
        let result = schedule(
            vec![target(2, 1), target(1, 1)],
            options(),
            sink,
            |job, _, _| async move { passing(job.trial) },
        )
        .await;
        assert_eq!(result.surfaces.len(), 2);
        assert!(result.surfaces.iter().all(|s| !s.complete && s.cases == 0));
        assert!(!result.complete());
    }
}
