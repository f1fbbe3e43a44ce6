//! Model providers, each a real protocol client behind one `complete` call: `openai` (the
//! Chat Completions API of any OpenAI-compatible server), `anthropic` (the Messages API),
//! `exec` (a local command) and `replay` (recorded completions from a cassette).

pub mod anthropic;
pub mod exec;
mod http;
pub mod openai;
pub mod replay;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One chat message sent to a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// What is sent: the model, the rendered messages and the request parameters
/// (`temperature`, `max_tokens`, …: the provider's `parameters` overlaid by the prompt's
/// front matter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub params: Map<String, Value>,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// The model the answer names (the response's top-level `model`, e.g.
    /// `gpt-4o-mini-2024-07-18`), which may be more exact than the one asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A failed call, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// 408, 429, 5xx, timeouts, refused or reset connections: retried with backoff,
    /// waiting at least `retry_after` when the server said so.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Other 4xx, malformed or empty responses, a failing command: not retried.
    #[error("{message}")]
    Permanent { message: String },
}

impl ProviderError {
    pub fn transient(message: impl Into<String>) -> Self {
        ProviderError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        ProviderError::Permanent {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ProviderError::Transient { message, .. } | ProviderError::Permanent { message } => {
                message
            }
        }
    }
}

/// A configured provider, ready to call.
pub enum Client {
    OpenAi(openai::OpenAi),
    Anthropic(anthropic::Anthropic),
    Exec(exec::Exec),
    Replay(replay::Replay),
}

impl Client {
    pub async fn complete(
        &self,
        request: &Request,
        trial: u32,
    ) -> Result<Completion, ProviderError> {
        match self {
            Client::OpenAi(client) => client.complete(request).await,
            Client::Anthropic(client) => client.complete(request).await,
            Client::Exec(client) => client.complete(request).await,
            Client::Replay(client) => client.complete(request, trial),
        }
    }
}

/// A provider ready for a run: its client and everything the runner needs around it.
pub struct Endpoint {
    pub name: String,
    /// `openai`, `anthropic`, `exec` or `replay`: part of the cache key.
    pub kind: &'static str,
    /// The endpoint or command line: part of the cache key.
    pub base_url: String,
    /// The provider's model (a prompt's front matter may override it per request).
    pub model: String,
    pub params: Map<String, Value>,
    pub client: Client,
    pub concurrency: usize,
    pub max_retries: u32,
    /// Whether calls cost money (HTTP APIs) and so need a price under a budget.
    pub billed: bool,
    pub price_override: Option<crate::config::Price>,
    /// Set under `--record`: where the calls' completions are appended.
    pub recorder: Option<replay::Recorder>,
    /// The API key's value, to redact from every message.
    pub secret: Option<String>,
    /// Why the API key is missing (its variable unset or empty): every call fails with it,
    /// while answers from the cache or a cassette still need none.
    pub missing_key: Option<String>,
}

/// Defaults when the config leaves them out.
pub use crate::config::bounds::{DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECS};
pub const OPENAI_URL: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_URL: &str = "https://api.anthropic.com";

/// Builds the endpoint for provider `name`. Errors (a missing API key variable, an
/// unreadable cassette) are found here, before any call; `root` resolves relative paths.
pub fn connect(
    config: &crate::config::Config,
    name: &str,
    root: &std::path::Path,
    record: bool,
) -> Result<Endpoint, String> {
    connect_with(config, name, root, record, None)
}

/// [`connect`], reading a replay cassette from `files` (a commit's objects: what a pull
/// request cannot write) instead of the file system when given.
pub fn connect_with(
    config: &crate::config::Config,
    name: &str,
    root: &std::path::Path,
    record: bool,
    files: Option<&dyn crate::git::Snapshot>,
) -> Result<Endpoint, String> {
    use crate::config::ProviderKind;
    let provider = config
        .provider
        .get(name)
        .map(|p| p.get_ref())
        .ok_or_else(|| format!("provider `{name}` is not declared"))?;
    let timeout = provider.timeout();
    // A replay cassette answers the requests its source made: same model and parameters,
    // unless the replay provider states its own.
    let source = provider
        .record_from
        .as_deref()
        .and_then(|s| config.provider.get(s))
        .map(|s| s.get_ref());
    let mut params = source
        .map(|s| toml_to_json(&s.parameters))
        .unwrap_or_default();
    params.extend(toml_to_json(&provider.parameters));
    // An empty value is what a workflow gets for a secret it may not read (a fork's pull
    // request): as good as unset. A missing key fails the first call, not the connection, so
    // a run answered from the cache needs none.
    let (secret, missing_key) = match &provider.api_key_env {
        Some(var) => match std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            Some(value) => (Some(value), None),
            None => (None, Some(format!("provider `{name}` reads its API key from ${var}, which is not set or empty; export it (in CI: from a secret)"))),
        },
        None => (None, None),
    };
    crate::util::http::install_crypto_provider();
    let http = || {
        reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("provider `{name}`: cannot build the HTTP client: {e}"))
    };
    let model = provider
        .model
        .clone()
        .or_else(|| source.and_then(|s| s.model.clone()))
        .unwrap_or_default();
    let (kind, base_url, client, recorder) = match provider.kind {
        ProviderKind::Openai => {
            let url = provider
                .base_url
                .clone()
                .unwrap_or_else(|| OPENAI_URL.into());
            let client = Client::OpenAi(openai::OpenAi::new(http()?, &url, secret.clone()));
            ("openai", url, client, None)
        }
        ProviderKind::Anthropic => {
            let url = provider
                .base_url
                .clone()
                .unwrap_or_else(|| ANTHROPIC_URL.into());
            let client =
                Client::Anthropic(anthropic::Anthropic::new(http()?, &url, secret.clone()));
            ("anthropic", url, client, None)
        }
        ProviderKind::Exec => {
            let argv = provider.command.clone().unwrap_or_default();
            let line = argv.join(" ");
            let client = Client::Exec(exec::Exec::new(
                argv,
                provider.input.unwrap_or_default(),
                timeout,
            ));
            ("exec", line, client, None)
        }
        ProviderKind::Replay => {
            let cassette = root.join(provider.cassette.clone().unwrap_or_default());
            if record {
                let source = provider.record_from.as_deref().ok_or_else(|| {
                    format!("provider `{name}`: --record needs `record_from = \"<provider>\"` naming the provider to record from")
                })?;
                let mut inner = connect(config, source, root, false)?;
                inner.recorder =
                    Some(replay::Recorder::open(&cassette).map_err(|e| {
                        format!("cannot open cassette {}: {e}", cassette.display())
                    })?);
                inner.name = name.to_string();
                return Ok(inner);
            }
            let replay = match files {
                Some(files) => {
                    let path = provider.cassette.clone().unwrap_or_default();
                    let origin = format!("{path}@{}", files.describe());
                    match files.read(&path) {
                        Ok(Some(crate::git::FileEntry::File(bytes))) => {
                            let text = String::from_utf8(bytes)
                                .map_err(|_| format!("cassette {origin} is not UTF-8 text"))?;
                            replay::Replay::parse(std::path::Path::new(&origin), &text)?
                        }
                        Ok(_) => return Err(format!("cassette {origin} is not a file in that commit; cassettes are read from the base branch: commit it there")),
                        Err(e) => return Err(format!("cannot read cassette {origin}: {e}")),
                    }
                }
                None => replay::Replay::load(&cassette, false)?,
            };
            (
                "replay",
                cassette.display().to_string(),
                Client::Replay(replay),
                None,
            )
        }
    };
    Ok(Endpoint {
        name: name.to_string(),
        kind,
        base_url,
        model,
        params,
        client,
        concurrency: provider.concurrency(),
        max_retries: provider.max_retries(),
        billed: matches!(
            provider.kind,
            ProviderKind::Openai | ProviderKind::Anthropic
        ),
        price_override: provider.price,
        recorder,
        secret,
        missing_key,
    })
}

/// TOML parameters as JSON request fields.
fn toml_to_json(table: &toml::Table) -> Map<String, Value> {
    serde_json::to_value(table)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}
