//! One side of a surface made ready to run, the same way for `check`, `eval` and `drill`:
//! the suite on its endpoint, with the repeat and quorum the config sets, priced at the
//! model its calls name (a provider's own price only for the model that provider
//! configures), refused when a budget is set and that price is unknown; and the run itself,
//! on one async runtime.

use std::sync::Arc;

use crate::config::{Config, Surface};
use crate::eval::cache::Cache;
use crate::eval::price::PriceTable;
use crate::eval::providers::Endpoint;
use crate::eval::run::{self, CaseRecord, Options, RunResult, Target};
use crate::eval::suite::Suite;

/// What a side's calls use: the request's model and parameters, as sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub model: String,
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

/// Why a side cannot be run as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpriced {
    pub model: String,
    pub provider: String,
}

impl Unpriced {
    /// The fix: a price for the model, in the config that sets the budget.
    pub fn help(&self) -> String {
        format!(
            "add [price.\"{}\"] with input_per_mtok and output_per_mtok",
            self.model
        )
    }
}

/// The suite of `surface` on `endpoint` (reached as provider `provider` of `config`), with
/// the config's repeat, quorum and price. `judge` grades its `llm-rubric` assertions when
/// the run sets no grader.
pub fn target(
    config: &Config,
    surface: &Surface,
    provider: &str,
    suite: Suite,
    endpoint: Arc<Endpoint>,
    judge: Option<Arc<Endpoint>>,
) -> Result<(Target, Sent), Unpriced> {
    let request = run::build_request(&endpoint, suite.params(), Vec::new());
    // A provider's own price is for the model the config names on it; a side that runs
    // another model (front matter, or a changed provider) is priced at that model's price.
    let configured = config
        .provider
        .get(provider)
        .and_then(|p| p.get_ref().model.clone());
    let price = endpoint
        .price_override
        .filter(|_| configured.as_deref().is_none_or(|m| m == request.model))
        .or_else(|| PriceTable::new(config.price.clone()).lookup(&request.model));
    if price.is_none() && endpoint.billed && config.gate.max_cost_usd.is_some() {
        return Err(Unpriced {
            model: request.model,
            provider: provider.to_string(),
        });
    }
    let repeat = surface
        .repeat
        .as_ref()
        .map_or(*config.gate.repeat.get_ref(), |r| *r.get_ref());
    let quorum = config
        .gate
        .quorum
        .as_ref()
        .map_or(run::default_quorum(repeat), |q| *q.get_ref());
    let sent = Sent {
        model: request.model,
        parameters: request.params,
    };
    let target = Target {
        suite,
        endpoint,
        judge,
        repeat,
        quorum: quorum.min(repeat),
        price,
        first_trial: 0,
    };
    Ok((target, sent))
}

/// The run options `config` sets (budget, prices), reading and writing `cache`.
pub fn options(config: &Config, cache: Cache) -> Options {
    Options {
        cache,
        shard: None,
        max_cost_usd: config.gate.max_cost_usd.as_ref().map(|b| *b.get_ref()),
        grader: None,
        command_dir: None,
        prices: PriceTable::new(config.price.clone()),
        on_progress: None,
        keep_outputs: false,
        share_answers: false,
    }
}

/// Runs `targets` to the end on a runtime of its own; `sink` sees each case as it finishes.
pub fn run(
    targets: Vec<Target>,
    options: Options,
    sink: impl FnMut(&CaseRecord) + Send + 'static,
) -> std::io::Result<RunResult> {
    run_until(targets, options, sink, std::future::pending())?
        .ok_or_else(|| std::io::Error::other("the run was stopped before it finished"))
}

/// Like [`run`], but gives up (`None`) as soon as `stop` completes (Ctrl-C in a drill).
pub fn run_until(
    targets: Vec<Target>,
    options: Options,
    sink: impl FnMut(&CaseRecord) + Send + 'static,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<Option<RunResult>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        tokio::select! {
            result = run::run(targets, options, sink) => Some(result),
            () = stop => None,
        }
    }))
}
