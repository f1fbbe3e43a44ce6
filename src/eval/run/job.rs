//! One job: a (case, trial) of a target rendered into a request, answered from the cache,
//! from another trial of the run sending the same request, or by a model call (budgeted,
//! retried by the one retry policy of `util::http`, its errors redacted), then graded by
//! the case's assertions, external graders and rubric calls included.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::budget::{estimate_cost, Budget};
use super::records::{error_trial, AssertionResult, TrialRecord};
use super::{Options, Target};
use crate::config::Price;
use crate::eval::assert::{self, combine, Assertion, Evaluation, Facts, Outcome};
use crate::eval::cache;
use crate::eval::price;
use crate::eval::providers::{ChatMessage, Endpoint, ProviderError, Request};
use crate::secrets::redact_each as redact;
use crate::util::http::{retry_delay, MAX_BACKOFF};

/// How long an external grader may run.
const EXEC_GRADER_TIMEOUT: Duration = Duration::from_secs(60);

/// State shared by all calls: counters, the budget, the retry jitter and shared answers.
pub(super) struct Shared {
    pub(super) calls: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) budget: Budget,
    jitter: AtomicU64,
    /// With `share_answers`: one answer per request key for the whole run.
    answers: Option<Mutex<HashMap<String, Arc<Answer>>>>,
}

/// A request's answer, fetched once and handed to every trial that sends the same request.
type Answer = tokio::sync::OnceCell<Result<cache::Entry, String>>;

impl Shared {
    pub(super) fn new(limit: Option<f64>, share_answers: bool) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Shared {
            calls: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            budget: Budget::new(limit),
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

/// One trial of one case of one target.
pub(super) struct Job {
    pub(super) target: Arc<Target>,
    /// The case's index in the target's suite.
    pub(super) case: usize,
    pub(super) trial: u32,
}

impl Job {
    /// Renders, calls (or reads the cache) and grades: never fails, an error is a trial.
    pub(super) async fn execute(&self, options: &Options, shared: &Shared) -> TrialRecord {
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
            model_reported: entry.completion.model.clone(),
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
            // A cassette being recorded gets the cached answers too: its replay must find
            // every answer this run used.
            if let Some(recorder) = &self.target.endpoint.recorder {
                recorder
                    .record(request, self.trial, &entry.completion)
                    .map_err(|e| format!("cannot append to the cassette: {e}"))?;
            }
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

/// One model call with budget, retries and backoff; the error message is final and
/// carries no secret.
async fn call(
    endpoint: &Endpoint,
    request: &Request,
    trial: u32,
    price: Option<Price>,
    shared: &Shared,
) -> Result<cache::Entry, String> {
    if let Some(missing) = &endpoint.missing_key {
        return Err(missing.clone());
    }
    let estimate = match (endpoint.billed, price) {
        (true, Some(price)) => estimate_cost(request, price, shared.budget.largest_output_tokens()),
        _ => 0.0,
    };
    shared.budget.reserve(estimate)?;
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
                tokio::time::sleep(retry_delay(attempt, shared.jitter(), retry_after)).await;
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
            shared.budget.settle(estimate, Some(0.0), None);
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
    shared
        .budget
        .settle(estimate, actual, completion.output_tokens);
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
