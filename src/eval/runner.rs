//! The runner: every (case, trial) of every selected suite becomes one model call, or one
//! cache hit. Calls run concurrently up to each provider's `concurrency`, with timeouts,
//! retries (exponential backoff with jitter, at least as long as `Retry-After`) and a cost
//! budget checked before each call. Each trial is graded as it lands; a case is folded
//! (quorum, flaky) when its last trial lands and handed to the caller's sink, so memory holds
//! compact summaries, not outputs. A trial that still fails is an error, never a pass.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use super::assert::{self, combine, Assertion, Evaluation, Facts, Outcome};
use super::cache::{self, Cache};
use super::price::{self, PriceTable};
use super::providers::{ChatMessage, Endpoint, ProviderError, Request};
use super::suite::Suite;
use crate::config::Price;
use crate::secrets::redact_each as redact;
use crate::util::http::MAX_BACKOFF;

/// One suite to run with its provider and repeat policy.
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
}

/// A deterministic slice of the cases: shard K of N, by a hash of surface and case id, so
/// adding a case never moves the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: write K/N with 1 ≤ K ≤ N, e.g. 2/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn contains(&self, surface: &str, case_id: &str) -> bool {
        let key = cache::request_key(
            &Request {
                model: surface.to_string(),
                messages: Vec::new(),
                params: serde_json::Map::from_iter([("case".to_string(), case_id.into())]),
            },
            0,
        );
        let bucket = u64::from_str_radix(&key[..15], 16).unwrap_or(0);
        bucket % u64::from(self.count) == u64::from(self.index - 1)
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

/// One assertion's result in a trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionResult {
    #[serde(rename = "type")]
    pub kind: String,
    pub pass: bool,
    pub score: f64,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

/// One trial: the output (or the error), how it graded, and what it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialRecord {
    pub trial: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub pass: bool,
    pub score: f64,
    pub assertions: Vec<AssertionResult>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub cached: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Pass,
    Fail,
    /// Some trial could not be run or graded: the case is not counted as either.
    Error,
}

/// A finished case with all its trials, as handed to the sink.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseRecord {
    pub surface: String,
    pub id: String,
    pub status: CaseStatus,
    pub flaky: bool,
    pub passed_trials: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    pub trials: Vec<TrialRecord>,
}

/// What stays in memory per case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: String,
    pub status: CaseStatus,
    pub flaky: bool,
    pub passed_trials: u32,
    pub trials: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    /// The first failed assertion's reason, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An output that shows the case's status (kept only when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
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
    #[serde(skip)]
    pub case_summaries: Vec<CaseSummary>,
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

/// The error of a trial whose task never reported back.
const LOST_TRIAL: &str = "the trial never finished: the task running it failed";
/// Messages of a failed or errored trial never exceed this in summaries.
const REASON_CHARS: usize = 200;
/// The longest wait between retries, whatever `Retry-After` says.
/// Outputs kept in case summaries are cut at this many characters.
const OUTPUT_CHARS: usize = 4000;
/// Finished trials waiting for the collector.
const LANDED_BUFFER: usize = 256;
/// How long an external grader may run.
const EXEC_GRADER_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs every target; `sink` receives each finished case.
pub async fn run(
    targets: Vec<Target>,
    options: Options,
    sink: impl FnMut(&CaseRecord) + Send + 'static,
) -> RunResult {
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
            for trial in 0..target.repeat {
                let permit = match semaphore.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                };
                let job = Job {
                    target: target.clone(),
                    t,
                    case,
                    trial,
                };
                let (tx, options, shared) = (tx.clone(), options.clone(), shared.clone());
                tasks.spawn(async move {
                    let record = job.execute(&options, &shared).await;
                    drop(permit);
                    let landed = Landed {
                        target: job.t,
                        case: job.case,
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
    result.spent_usd = shared.spent();
    result
}

/// State shared by all calls: counters and the budget.
struct Shared {
    calls: AtomicU64,
    cache_hits: AtomicU64,
    budget: Mutex<Budget>,
    jitter: AtomicU64,
    /// With `share_answers`: one answer per request key for the whole run.
    answers: Option<Mutex<HashMap<String, Arc<Answer>>>>,
}

/// A request's answer, fetched once and handed to every trial that sends the same request.
type Answer = tokio::sync::OnceCell<Result<cache::Entry, String>>;

struct Budget {
    limit: Option<f64>,
    spent: f64,
    /// Estimated cost of calls in flight.
    reserved: f64,
    /// Whether some call's cost could not be priced.
    unpriced: bool,
    /// The largest output seen, to estimate the next call's.
    largest_output_tokens: u64,
}

impl Shared {
    fn new(limit: Option<f64>, share_answers: bool) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Shared {
            calls: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            budget: Mutex::new(Budget {
                limit,
                spent: 0.0,
                reserved: 0.0,
                unpriced: false,
                largest_output_tokens: 0,
            }),
            jitter: AtomicU64::new(seed | 1),
            answers: share_answers.then(Mutex::default),
        }
    }

    /// The shared slot for a request key, when answers are shared.
    fn answer_slot(&self, key: &str) -> Option<Arc<Answer>> {
        let answers = self.answers.as_ref()?;
        let mut answers = answers.lock().ok()?;
        Some(answers.entry(key.to_string()).or_default().clone())
    }

    fn spent(&self) -> Option<f64> {
        let budget = self.budget.lock().ok()?;
        (!budget.unpriced).then_some(budget.spent)
    }

    /// Reserves the estimated cost of a call; `Err` says the budget would be exceeded.
    fn reserve(&self, estimate: f64) -> Result<(), String> {
        let Ok(mut budget) = self.budget.lock() else {
            return Err("budget state poisoned".into());
        };
        if let Some(limit) = budget.limit {
            if budget.spent + budget.reserved + estimate > limit {
                return Err(format!(
                    "not run: the next call would exceed max_cost_usd = {limit} (spent ${:.4}, in flight ${:.4}, this call ~${estimate:.4})",
                    budget.spent, budget.reserved
                ));
            }
        }
        budget.reserved += estimate;
        Ok(())
    }

    fn settle(&self, estimate: f64, actual: Option<f64>, output_tokens: Option<u64>) {
        if let Ok(mut budget) = self.budget.lock() {
            budget.reserved = (budget.reserved - estimate).max(0.0);
            match actual {
                Some(cost) => budget.spent += cost,
                None => budget.unpriced = true,
            }
            budget.largest_output_tokens =
                budget.largest_output_tokens.max(output_tokens.unwrap_or(0));
        }
    }

    fn largest_output_tokens(&self) -> u64 {
        self.budget.lock().map_or(0, |b| b.largest_output_tokens)
    }

    /// A factor in [0.5, 1.5) from a shared xorshift, to spread retries apart.
    fn jitter(&self) -> f64 {
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        0.5 + (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Job {
    target: Arc<Target>,
    t: usize,
    case: usize,
    trial: u32,
}

struct Landed {
    target: usize,
    case: usize,
    record: TrialRecord,
}

impl Job {
    async fn execute(&self, options: &Options, shared: &Shared) -> TrialRecord {
        let target = &self.target;
        let endpoint = &target.endpoint;
        let request = match self.request() {
            Ok(request) => request,
            Err(message) => return error_trial(self.trial, message),
        };
        let key = cache::key(endpoint.kind, &endpoint.base_url, &request, self.trial);
        let fetched = match shared.answer_slot(&key) {
            Some(slot) => {
                let fetched_here = AtomicBool::new(false);
                let answer = slot
                    .get_or_init(|| async {
                        fetched_here.store(true, Ordering::Relaxed);
                        self.fetch(&key, &request, options, shared)
                            .await
                            .map(|(entry, _)| entry)
                    })
                    .await;
                match answer {
                    // Another trial of this run fetched it: as good as a cache hit.
                    Ok(entry) if !fetched_here.load(Ordering::Relaxed) => {
                        shared.cache_hits.fetch_add(1, Ordering::Relaxed);
                        Ok((entry.clone(), true))
                    }
                    Ok(entry) => Ok((entry.clone(), false)),
                    Err(message) => Err(message.clone()),
                }
            }
            None => self.fetch(&key, &request, options, shared).await,
        };
        let (entry, cached) = match fetched {
            Ok(fetched) => fetched,
            Err(message) => return error_trial(self.trial, message),
        };
        let cost = target
            .price
            .zip(
                entry
                    .completion
                    .input_tokens
                    .zip(entry.completion.output_tokens),
            )
            .map(|(price, (input, output))| price::cost(price, input, output));
        let cost = if endpoint.billed { cost } else { Some(0.0) };
        let facts = Facts {
            latency_ms: entry.latency_ms,
            cost_usd: cost,
        };
        let assertions = &target.suite.cases[self.case].assertions;
        let graded = grade(
            assertions,
            &entry.completion.text,
            &facts,
            options,
            target,
            shared,
        )
        .await;
        let (outcomes, error) = match graded {
            Ok(outcomes) => (outcomes, None),
            Err(message) => (Vec::new(), Some(message)),
        };
        let pairs: Vec<(&Assertion, &Outcome)> = assertions.iter().zip(outcomes.iter()).collect();
        let (pass, score) = combine(&pairs);
        TrialRecord {
            trial: self.trial,
            output: Some(entry.completion.text.clone()),
            pass: pass && error.is_none(),
            score,
            error,
            assertions: assertions
                .iter()
                .zip(outcomes)
                .map(|(a, o)| AssertionResult {
                    kind: a.type_name(),
                    pass: o.pass,
                    score: o.score,
                    reason: o.reason,
                    metric: a.metric.clone(),
                })
                .collect(),
            latency_ms: entry.latency_ms,
            input_tokens: entry.completion.input_tokens,
            output_tokens: entry.completion.output_tokens,
            cost_usd: cost,
            cached,
        }
    }

    /// The answer from the cache, else from the provider (then stored); `true` when cached.
    async fn fetch(
        &self,
        key: &str,
        request: &Request,
        options: &Options,
        shared: &Shared,
    ) -> Result<(cache::Entry, bool), String> {
        if let Some(entry) = options.cache.get(key) {
            shared.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((entry, true));
        }
        let entry = call(
            &self.target.endpoint,
            request,
            self.trial,
            self.target.price,
            shared,
        )
        .await?;
        // A cache write failure costs a future call, not this result.
        let _ = options.cache.put(key, &entry);
        Ok((entry, false))
    }

    fn request(&self) -> Result<Request, String> {
        let target = &self.target;
        let messages = target
            .suite
            .render(self.case)
            .map_err(|e| format!("cannot render the prompt: {e}"))?;
        Ok(build_request(
            &target.endpoint,
            target.suite.params(),
            messages,
        ))
    }
}

/// The request for an endpoint: its model and parameters, overridden by the prompt's own.
pub fn build_request(
    endpoint: &Endpoint,
    prompt_params: &serde_json::Map<String, serde_json::Value>,
    messages: Vec<ChatMessage>,
) -> Request {
    let mut params = endpoint.params.clone();
    let mut model = endpoint.model.clone();
    for (key, value) in prompt_params {
        match (key.as_str(), value.as_str()) {
            ("model", Some(m)) => model = m.to_string(),
            _ => {
                params.insert(key.clone(), value.clone());
            }
        }
    }
    Request {
        model,
        messages,
        params,
    }
}

fn error_trial(trial: u32, message: String) -> TrialRecord {
    TrialRecord {
        trial,
        output: None,
        error: Some(message),
        pass: false,
        score: 0.0,
        assertions: Vec::new(),
        latency_ms: 0,
        input_tokens: None,
        output_tokens: None,
        cost_usd: None,
        cached: false,
    }
}

/// One model call with budget, retries and backoff; the error message is final and
/// carries no secret.
async fn call(
    endpoint: &Endpoint,
    request: &Request,
    trial: u32,
    price: Option<Price>,
    shared: &Shared,
) -> Result<cache::Entry, String> {
    let estimate = match (endpoint.billed, price) {
        (true, Some(price)) => estimate_cost(request, price, shared.largest_output_tokens()),
        _ => 0.0,
    };
    shared.reserve(estimate)?;
    let secrets: Vec<&str> = endpoint.secret.as_deref().into_iter().collect();
    let mut attempt = 0;
    let outcome = loop {
        let started = Instant::now();
        shared.calls.fetch_add(1, Ordering::Relaxed);
        match endpoint.client.complete(request, trial).await {
            Ok(completion) => break Ok((completion, started.elapsed())),
            Err(ProviderError::Transient {
                message,
                retry_after,
            }) if attempt < endpoint.max_retries => {
                if retry_after.is_some_and(|wait| wait > MAX_BACKOFF) {
                    break Err(format!(
                        "{message} (the server asked to wait {:?}, longer than promptgate waits)",
                        retry_after.unwrap_or_default()
                    ));
                }
                tokio::time::sleep(crate::util::http::retry_delay(
                    attempt,
                    shared.jitter(),
                    retry_after,
                ))
                .await;
                attempt += 1;
            }
            Err(error) => {
                let tries = attempt + 1;
                break Err(format!(
                    "{} (after {tries} attempt{})",
                    error.message(),
                    if tries == 1 { "" } else { "s" }
                ));
            }
        }
    };
    let (completion, elapsed) = match outcome {
        Ok(done) => done,
        Err(message) => {
            shared.settle(estimate, Some(0.0), None);
            return Err(redact(&format!("{}: {message}", endpoint.name), &secrets));
        }
    };
    let actual = match (
        endpoint.billed,
        price,
        completion.input_tokens,
        completion.output_tokens,
    ) {
        (false, ..) => Some(0.0),
        (true, Some(price), Some(input), Some(output)) => Some(price::cost(price, input, output)),
        _ => None,
    };
    shared.settle(estimate, actual, completion.output_tokens);
    if let Some(recorder) = &endpoint.recorder {
        recorder
            .record(request, trial, &completion)
            .map_err(|e| format!("cannot append to the cassette: {e}"))?;
    }
    Ok(cache::Entry {
        completion,
        latency_ms: elapsed.as_millis() as u64,
    })
}

/// A cautious estimate of a call's cost: prompt characters / 4 tokens in, and the larger of
/// `max_tokens` and the largest output so far (at least 256) out.
fn estimate_cost(request: &Request, price: Price, largest_output: u64) -> f64 {
    let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
    let input = (chars as u64).div_ceil(4);
    let max_tokens = request
        .params
        .get("max_tokens")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let output = max_tokens.max(largest_output).max(256);
    price::cost(price, input, output)
}

/// Grades one output against a case's assertions, running external graders and rubric
/// calls as needed. A grader that cannot answer makes the trial an error.
async fn grade(
    assertions: &[Assertion],
    output: &str,
    facts: &Facts,
    options: &Options,
    target: &Target,
    shared: &Shared,
) -> Result<Vec<Outcome>, String> {
    let mut outcomes = Vec::with_capacity(assertions.len());
    for assertion in assertions {
        let outcome = match assertion.evaluate(output, facts) {
            Evaluation::Done(outcome) => outcome,
            Evaluation::NeedsExec { argv } => assertion.finish(
                assert::run_exec_grader(
                    &argv,
                    output,
                    EXEC_GRADER_TIMEOUT,
                    options.command_dir.as_deref(),
                )
                .await,
            ),
            Evaluation::NeedsRubric { messages } => {
                let grader = options
                    .grader
                    .as_ref()
                    .or(target.judge.as_ref())
                    .unwrap_or(&target.endpoint);
                let request = build_request(grader, &serde_json::Map::new(), messages);
                let key = cache::key(grader.kind, &grader.base_url, &request, 0);
                let entry = match options.cache.get(&key) {
                    Some(entry) => entry,
                    None => {
                        let price = grader
                            .price_override
                            .or_else(|| options.prices.lookup(&request.model));
                        let entry = call(grader, &request, 0, price, shared)
                            .await
                            .map_err(|e| format!("llm-rubric grader failed: {e}"))?;
                        let _ = options.cache.put(&key, &entry);
                        entry
                    }
                };
                assertion.finish(assert::parse_rubric_reply(&entry.completion.text))
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Folds landed trials into cases and cases into surfaces.
async fn collect(
    targets: Vec<Arc<Target>>,
    shard: Option<Shard>,
    mut rx: mpsc::Receiver<Landed>,
    mut sink: impl FnMut(&CaseRecord),
    options: Arc<Options>,
) -> RunResult {
    let mut pending: HashMap<(usize, usize), Vec<TrialRecord>> = HashMap::new();
    let mut surfaces: Vec<Accumulator> = targets
        .iter()
        .map(|t| Accumulator::for_target(t, shard, options.keep_outputs))
        .collect();
    let mut landed = 0u64;
    let mut folded: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    while let Some(Landed {
        target,
        case,
        record,
    }) = rx.recv().await
    {
        landed += 1;
        if let Some(progress) = &options.on_progress {
            progress(landed);
        }
        let trials = pending.entry((target, case)).or_default();
        trials.push(record);
        if trials.len() as u32 == targets[target].repeat {
            let mut trials = pending.remove(&(target, case)).unwrap_or_default();
            trials.sort_by_key(|t| t.trial);
            let record = fold(&targets[target], case, trials);
            surfaces[target].add(&record);
            sink(&record);
            folded.insert((target, case));
        }
    }
    // A trial whose task failed (a panic) never lands: its case is an error, never dropped.
    for (t, target) in targets.iter().enumerate() {
        for (case, id) in target.suite.cases.iter().map(|c| &c.id).enumerate() {
            let expected = shard.is_none_or(|s| s.contains(&target.suite.surface, id));
            if !expected || folded.contains(&(t, case)) {
                continue;
            }
            let mut trials = pending.remove(&(t, case)).unwrap_or_default();
            for trial in 0..target.repeat {
                if !trials.iter().any(|r| r.trial == trial) {
                    trials.push(error_trial(trial, LOST_TRIAL.into()));
                }
            }
            trials.sort_by_key(|r| r.trial);
            let record = fold(target, case, trials);
            surfaces[t].add(&record);
            sink(&record);
        }
    }
    RunResult {
        surfaces: surfaces
            .into_iter()
            .zip(&targets)
            .map(|(acc, t)| acc.finish(&t.suite.surface, &t.endpoint.name))
            .collect(),
        calls: 0,
        cache_hits: 0,
        spent_usd: None,
    }
}

/// A case from its trials: an error if any trial errored, else pass by quorum.
fn fold(target: &Target, case: usize, trials: Vec<TrialRecord>) -> CaseRecord {
    let (status, flaky, passed_trials) = verdict_of(&trials, target.quorum);
    CaseRecord {
        surface: target.suite.surface.clone(),
        id: target.suite.cases[case].id.clone(),
        difficulty: target.suite.cases[case].difficulty,
        status,
        flaky,
        passed_trials,
        trials,
    }
}

/// A case's status from its trials: an error if any trial errored (never counted either
/// way), else pass when at least `quorum` trials pass; flaky when the trials disagree.
fn verdict_of(trials: &[TrialRecord], quorum: u32) -> (CaseStatus, bool, u32) {
    let passed = trials.iter().filter(|t| t.pass).count() as u32;
    let errored = trials.iter().any(|t| t.error.is_some());
    let status = if errored {
        CaseStatus::Error
    } else if passed >= quorum {
        CaseStatus::Pass
    } else {
        CaseStatus::Fail
    };
    (
        status,
        !errored && passed > 0 && passed < trials.len() as u32,
        passed,
    )
}

/// The output of a trial that agrees with the case's status, trimmed.
fn representative_output(record: &CaseRecord) -> Option<String> {
    let wanted = record.status == CaseStatus::Pass;
    let trial = record
        .trials
        .iter()
        .find(|t| t.pass == wanted && t.output.is_some())
        .or_else(|| record.trials.iter().find(|t| t.output.is_some()))?;
    let text = trial.output.as_deref()?;
    Some(match text.char_indices().nth(OUTPUT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    })
}

/// The first reason a case did not pass.
fn reason(record: &CaseRecord) -> Option<String> {
    if record.status == CaseStatus::Pass {
        return None;
    }
    let text = record.trials.iter().find_map(|t| {
        t.error.clone().or_else(|| {
            t.assertions
                .iter()
                .find(|a| !a.pass)
                .map(|a| format!("{}: {}", a.kind, a.reason))
        })
    })?;
    Some(match text.char_indices().nth(REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    })
}

/// Running totals for one surface, from its finished cases (also used to merge shards).
pub struct Accumulator {
    keep_outputs: bool,
    summaries: Vec<CaseSummary>,
    metrics: BTreeMap<String, (f64, u64)>,
    cost: Option<f64>,
    input_tokens: u64,
    output_tokens: u64,
    latencies: Vec<u64>,
    expected: usize,
}

impl Accumulator {
    fn for_target(target: &Target, shard: Option<Shard>, keep_outputs: bool) -> Self {
        let expected = target
            .suite
            .cases
            .iter()
            .filter(|c| shard.is_none_or(|s| s.contains(&target.suite.surface, &c.id)))
            .count();
        Accumulator::new(expected, target.repeat, keep_outputs)
    }

    /// Totals expecting `expected` cases of `repeat` trials.
    pub fn new(expected: usize, repeat: u32, keep_outputs: bool) -> Self {
        Accumulator {
            keep_outputs,
            summaries: Vec::with_capacity(expected),
            metrics: BTreeMap::new(),
            cost: Some(0.0),
            input_tokens: 0,
            output_tokens: 0,
            latencies: Vec::with_capacity(expected * repeat as usize),
            expected,
        }
    }

    pub fn add(&mut self, record: &CaseRecord) {
        for trial in &record.trials {
            if trial.output.is_some() {
                self.latencies.push(trial.latency_ms);
            }
            self.cost = self
                .cost
                .zip(trial.cost_usd.or(trial.error.as_ref().map(|_| 0.0)))
                .map(|(a, b)| a + b);
            self.input_tokens += trial.input_tokens.unwrap_or(0);
            self.output_tokens += trial.output_tokens.unwrap_or(0);
            for result in &trial.assertions {
                if let Some(metric) = &result.metric {
                    let entry = self.metrics.entry(metric.clone()).or_insert((0.0, 0));
                    entry.0 += result.score;
                    entry.1 += 1;
                }
            }
        }
        self.summaries.push(CaseSummary {
            id: record.id.clone(),
            status: record.status,
            flaky: record.flaky,
            passed_trials: record.passed_trials,
            trials: record.trials.len() as u32,
            difficulty: record.difficulty,
            reason: reason(record),
            output: self
                .keep_outputs
                .then(|| representative_output(record))
                .flatten(),
        });
    }

    pub fn finish(mut self, name: &str, provider: &str) -> SurfaceResult {
        self.summaries.sort_by(|a, b| a.id.cmp(&b.id));
        self.latencies.sort_unstable();
        let count = |status| self.summaries.iter().filter(|s| s.status == status).count();
        let (passed, failed, errors) = (
            count(CaseStatus::Pass),
            count(CaseStatus::Fail),
            count(CaseStatus::Error),
        );
        let cases = self.summaries.len();
        SurfaceResult {
            name: name.to_string(),
            provider: provider.to_string(),
            cases,
            passed,
            failed,
            errors,
            flaky: self.summaries.iter().filter(|s| s.flaky).count(),
            pass_rate: if cases == 0 {
                0.0
            } else {
                passed as f64 / cases as f64
            },
            complete: errors == 0 && cases == self.expected,
            metrics: self
                .metrics
                .into_iter()
                .map(|(name, (sum, count))| {
                    (
                        name,
                        MetricValue {
                            mean: sum / count as f64,
                            count,
                        },
                    )
                })
                .collect(),
            cost_usd: self.cost,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            latency_ms: Latency {
                p50: percentile(&self.latencies, 50),
                p95: percentile(&self.latencies, 95),
            },
            case_summaries: self.summaries,
        }
    }
}

/// The nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// A strict majority of `repeat` trials.
pub fn default_quorum(repeat: u32) -> u32 {
    repeat / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_cases() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for id in 0..200 {
            let id = format!("case-{id}");
            assert_eq!(shards.iter().filter(|s| s.contains("s", &id)).count(), 1);
        }
        assert!(
            Shard::parse("0/3").is_err()
                && Shard::parse("4/3").is_err()
                && Shard::parse("x").is_err()
        );
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!((percentile(&values, 50), percentile(&values, 95)), (50, 95));
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    fn trial(pass: bool, error: bool) -> TrialRecord {
        let mut t = error_trial(0, "boom".into());
        t.pass = pass;
        if !error {
            t.error = None;
            t.output = Some("x".into());
        }
        t
    }

    #[test]
    fn cases_fold_by_quorum_flag_flaky_and_never_count_errors() {
        let (p, f) = (trial(true, false), trial(false, false));
        assert_eq!(
            verdict_of(&[p.clone(), f.clone(), p.clone()], 2),
            (CaseStatus::Pass, true, 2)
        );
        assert_eq!(
            verdict_of(&[p.clone(), f.clone(), f.clone()], 2),
            (CaseStatus::Fail, true, 1)
        );
        assert_eq!(
            verdict_of(&[p.clone(), p.clone(), p.clone()], 2),
            (CaseStatus::Pass, false, 3)
        );
        assert_eq!(
            verdict_of(&[f.clone(), f.clone()], 2),
            (CaseStatus::Fail, false, 0)
        );
        assert_eq!(
            verdict_of(&[p.clone(), p.clone(), trial(false, true)], 2),
            (CaseStatus::Error, false, 2)
        );
        // With an even repeat, a tie is not a majority.
        assert_eq!(
            verdict_of(&[p.clone(), f.clone()], default_quorum(2)),
            (CaseStatus::Fail, true, 1)
        );
    }

    #[test]
    fn quorum_is_a_strict_majority() {
        assert_eq!(
            (
                default_quorum(1),
                default_quorum(2),
                default_quorum(3),
                default_quorum(4)
            ),
            (1, 2, 2, 3)
        );
    }
}
