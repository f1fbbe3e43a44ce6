//! JSON over HTTP for the provider clients: one POST (`Exchange`) with the failure
//! conventions the OpenAI and Anthropic APIs share: every failure classified as transient
//! or permanent (fail closed: anything unexpected is an error, never an empty success),
//! `Retry-After` honoured, the API's own message preferred, and the key redacted.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Map, Value};

use super::{ChatMessage, ProviderError};
use crate::secrets::redact_each as redact;
use crate::util::http::parse_retry_after;
use crate::util::text::excerpt;

const KEY_REJECTED: &str = "the API key was rejected: check the key in the api_key_env variable";
const KEY_MISSING: &str = "no API key was sent: set the variable named by api_key_env";

pub(super) fn messages_json<'a>(messages: impl IntoIterator<Item = &'a ChatMessage>) -> Value {
    messages
        .into_iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect()
}

/// Adds the request parameters at the top level of the body. They never replace a field the
/// client already set (the model, the messages), so a stray parameter cannot change the prompt.
pub(super) fn merge_params(body: &mut Map<String, Value>, params: &Map<String, Value>) {
    for (name, value) in params {
        body.entry(name.clone()).or_insert_with(|| value.clone());
    }
}

/// "has empty content", with the model's stated reason (e.g. `length`) when it gave one.
pub(super) fn empty_content(reason_field: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("has empty content ({reason_field}: {reason})"),
        None => "has empty content".into(),
    }
}

/// The top-level `model` string an answer names; anything else is `None`, never an error.
pub(super) fn reported_model(body: &Value) -> Option<String> {
    body.get("model")
        .and_then(Value::as_str)
        .filter(|model| !model.trim().is_empty())
        .map(String::from)
}

/// One POST to a provider's JSON API, with the failure conventions both APIs share. Every
/// error it builds starts with the provider's name and has the API key redacted, even when
/// the server echoes the key back.
pub(super) struct Exchange<'a> {
    provider: &'static str,
    pub url: String,
    key: Option<&'a str>,
}

impl<'a> Exchange<'a> {
    pub fn new(provider: &'static str, url: String, key: Option<&'a str>) -> Self {
        // An empty variable counts as unset: sending an empty key only earns a vaguer 401.
        let key = key.filter(|key| !key.is_empty());
        Exchange { provider, url, key }
    }

    /// The key as a header value after `prefix` (`"Bearer "` or `""`), marked sensitive so
    /// it stays out of debug output; `None` without a key.
    pub fn key_header(&self, prefix: &str) -> Result<Option<HeaderValue>, ProviderError> {
        let Some(key) = self.key else { return Ok(None) };
        let mut value = HeaderValue::from_str(&format!("{prefix}{key}")).map_err(|_| {
            self.permanent("the API key contains characters not allowed in an HTTP header")
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// Sends the request and returns the JSON body of a 2xx response.
    pub async fn post_json(&self, request: RequestBuilder) -> Result<Value, ProviderError> {
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let body = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            return Err(self.status_error(status, &body, retry_after));
        }
        serde_json::from_str(&body).map_err(|_| {
            let shown = quote_body(&body);
            self.permanent(format!("response from {} is not JSON: {shown}", self.url))
        })
    }

    /// A 2xx whose JSON lacks what the client needs; `what` reads "has no choices", ….
    pub fn malformed(&self, what: &str, body: &Value) -> ProviderError {
        let shown = excerpt(&body.to_string());
        self.permanent(format!("response from {} {what}: {shown}", self.url))
    }

    /// Connection failures and timeouts may pass; a request that cannot be built will not.
    fn transport_error(&self, error: &reqwest::Error) -> ProviderError {
        let url = &self.url;
        let cause = root_cause(error);
        if error.is_builder() {
            self.permanent(format!("cannot build the request to {url}: {cause}"))
        } else if error.is_redirect() {
            self.permanent(format!("redirect from {url} failed: {cause}"))
        } else if error.is_timeout() {
            self.transient(
                format!("no response from {url} within the client timeout ({cause})"),
                None,
            )
        } else if error.is_connect() {
            self.transient(format!("cannot connect to {url}: {cause}"), None)
        } else {
            self.transient(format!("request to {url} failed: {cause}"), None)
        }
    }

    /// `429 Too Many Requests from <url>: <the API's message or the body>`.
    fn status_error(
        &self,
        status: StatusCode,
        body: &str,
        retry_after: Option<Duration>,
    ) -> ProviderError {
        let status_line = match status.canonical_reason() {
            Some(reason) => format!("{} {reason}", status.as_str()),
            None => status.as_str().to_string(),
        };
        let mut message = format!("{status_line} from {}: {}", self.url, api_message(body));
        if let Some(hint) = self.status_hint(status) {
            message.push_str(&format!(" ({hint})"));
        }
        if is_transient(status) {
            self.transient(message, retry_after)
        } else {
            self.permanent(message)
        }
    }

    fn status_hint(&self, status: StatusCode) -> Option<&'static str> {
        match (status, self.key) {
            (StatusCode::UNAUTHORIZED, Some(_)) => Some(KEY_REJECTED),
            (StatusCode::UNAUTHORIZED, None) => Some(KEY_MISSING),
            (StatusCode::FORBIDDEN, _) => Some("the API key lacks access: check the key and model"),
            (StatusCode::NOT_FOUND, _) => Some("check base_url and the model name"),
            _ => None,
        }
    }

    fn transient(&self, message: impl AsRef<str>, retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Transient {
            message: self.finish(message.as_ref()),
            retry_after,
        }
    }

    fn permanent(&self, message: impl AsRef<str>) -> ProviderError {
        ProviderError::permanent(self.finish(message.as_ref()))
    }

    fn finish(&self, message: &str) -> String {
        let secrets: Vec<&str> = self.key.into_iter().collect();
        redact(&format!("{}: {message}", self.provider), &secrets)
    }
}

/// 408 Request Timeout, 409 Conflict (OpenAI's "try again"), 429 and every 5xx may pass.
fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// How long the server asked us to wait: `Retry-After` (seconds or an HTTP date), or
/// OpenAI's finer `retry-after-ms` when present.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let millis = header("retry-after-ms")
        .and_then(|ms| ms.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0));
    millis.or_else(|| header("retry-after").and_then(parse_retry_after))
}

/// The API's own explanation (`error.message` in both APIs, or a bare `error`/`message`
/// string from compatible servers), else the start of the body.
fn api_message(body: &str) -> String {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let stated = json.as_ref().and_then(|json| {
        let message = json.pointer("/error/message").or_else(|| json.get("error"));
        message
            .or_else(|| json.get("message"))
            .and_then(Value::as_str)
    });
    match stated {
        Some(message) if !message.trim().is_empty() => excerpt(message),
        _ => quote_body(body),
    }
}

fn quote_body(body: &str) -> String {
    if body.trim().is_empty() {
        "empty body".into()
    } else {
        excerpt(body)
    }
}

/// The innermost cause ("Connection refused (os error 111)"), without reqwest's wrappers.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
