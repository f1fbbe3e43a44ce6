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

/// At most this much of a response body is quoted in an error message.
pub const BODY_EXCERPT: usize = 300;

/// The start of a response body for an error message, on one line.
pub fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// Replaces every occurrence of each secret with `[redacted]`, so keys never reach output.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |acc, secret| {
            acc.replace(secret, "[redacted]")
        })
}

/// Parses a `Retry-After` header value: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = httpdate_to_unix(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
fn httpdate_to_unix(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m == month)? as u64 + 1;
    let (day, year): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    let days = crate::drill::days_from_civil(year as i64, month as i64, day as i64);
    let days = u64::try_from(days).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
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
    let secret = match &provider.api_key_env {
        // An empty value is what a workflow gets for a secret it may not read (a fork's
        // pull request): as good as unset.
        Some(var) => Some(std::env::var(var).ok().filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            format!("provider `{name}` reads its API key from ${var}, which is not set or empty; export it (in CI: from a secret)")
        })?),
        None => None,
    };
    install_crypto_provider();
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
            let replay = replay::Replay::load(&cassette, false)?;
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
    })
}

/// rustls is built without a default crypto provider (ring is chosen, not aws-lc); reqwest
/// needs one installed before its first client.
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// TOML parameters as JSON request fields.
fn toml_to_json(table: &toml::Table) -> Map<String, Value> {
    serde_json::to_value(table)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn redacts_secrets_and_excerpts_bodies() {
        assert_eq!(
            redact("bad key sk-abc123", &["sk-abc123"]),
            "bad key [redacted]"
        );
        assert_eq!(
            excerpt("<html>\n  <body>502</body>\n</html>"),
            "<html> <body>502</body> </html>"
        );
        assert!(excerpt(&"x".repeat(1000)).ends_with('…'));
    }
}
