//! Model providers, each a real protocol client behind one `complete` call: `openai` (the
//! Chat Completions API of any OpenAI-compatible server), `anthropic` (the Messages API),
//! `exec` (a local command) and `replay` (recorded completions from a cassette).

pub mod anthropic;
pub mod exec;
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
            ProviderError::Transient { message, .. } | ProviderError::Permanent { message } => message,
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
    pub async fn complete(&self, request: &Request, trial: u32) -> Result<Completion, ProviderError> {
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
        .fold(text.to_string(), |acc, secret| acc.replace(secret, "[redacted]"))
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
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = months.iter().position(|m| m == month)? as u64 + 1;
    let (day, year): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<u64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else { return None };
    // Days from the civil date (Howard Hinnant's algorithm), valid for years after 1970.
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn redacts_secrets_and_excerpts_bodies() {
        assert_eq!(redact("bad key sk-abc123", &["sk-abc123"]), "bad key [redacted]");
        assert_eq!(excerpt("<html>\n  <body>502</body>\n</html>"), "<html> <body>502</body> </html>");
        assert!(excerpt(&"x".repeat(1000)).ends_with('…'));
    }
}
