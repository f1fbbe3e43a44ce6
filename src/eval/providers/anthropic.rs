//! The Anthropic Messages client (`POST {base_url}/v1/messages`): hoists system messages into
//! the top-level `system` field, defaults `max_tokens` (which the API requires), and joins the
//! answer's text blocks. Sending and failure handling are the shared `http::Exchange`.

use serde_json::{json, Map, Value};

use super::http::{empty_content, merge_params, messages_json, reported_model, Exchange};
use super::{Completion, ProviderError, Request};

const PROVIDER: &str = "anthropic";
const API_VERSION: &str = "2023-06-01";
/// The Messages API rejects requests without `max_tokens`; prompts rarely set it.
const DEFAULT_MAX_TOKENS: u64 = 1024;

pub struct Anthropic {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: Option<String>,
}

impl Anthropic {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        Anthropic {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
        }
    }

    pub async fn complete(&self, request: &Request) -> Result<Completion, ProviderError> {
        let url = format!("{}/v1/messages", self.base_url);
        let exchange = Exchange::new(PROVIDER, url, self.api_key.as_deref());
        let mut post = self
            .http
            .post(&exchange.url)
            .header("anthropic-version", API_VERSION)
            .json(&request_body(request));
        if let Some(key) = exchange.key_header("")? {
            post = post.header("x-api-key", key);
        }
        let body = exchange.post_json(post).await?;
        parse_completion(&body).map_err(|what| exchange.malformed(&what, &body))
    }
}

/// `{"model", "max_tokens", "system"?, "messages", ...other params}`.
fn request_body(request: &Request) -> Value {
    let (system, conversation): (Vec<_>, Vec<_>) =
        request.messages.iter().partition(|m| m.role == "system");
    let max_tokens = match request.params.get("max_tokens") {
        None | Some(Value::Null) => json!(DEFAULT_MAX_TOKENS),
        Some(value) => value.clone(),
    };
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("max_tokens".into(), max_tokens);
    if !system.is_empty() {
        let joined: Vec<&str> = system.iter().map(|m| m.content.as_str()).collect();
        body.insert("system".into(), json!(joined.join("\n\n")));
    }
    body.insert("messages".into(), messages_json(conversation));
    merge_params(&mut body, &request.params);
    Value::Object(body)
}

/// The joined text blocks of `content` and the token usage, or what the body lacks.
fn parse_completion(body: &Value) -> Result<Completion, String> {
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or("has no content")?;
    // Thinking and tool-use blocks are not the answer; citations split text into blocks.
    let text: String = blocks
        .iter()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    if text.is_empty() {
        let stop = body.get("stop_reason").and_then(Value::as_str);
        return Err(empty_content("stop_reason", stop));
    }
    Ok(Completion {
        text,
        input_tokens: body.pointer("/usage/input_tokens").and_then(Value::as_u64),
        output_tokens: body.pointer("/usage/output_tokens").and_then(Value::as_u64),
        model: reported_model(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(model: Option<Value>) -> Value {
        let mut body = json!({
            "content": [{"type": "text", "text": "hi"}],
            "usage": {"input_tokens": 3, "output_tokens": 1}
        });
        if let (Some(model), Some(fields)) = (model, body.as_object_mut()) {
            fields.insert("model".into(), model);
        }
        body
    }

    #[test]
    fn the_model_the_answer_names_is_kept() {
        let completion = parse_completion(&answer(Some(json!("claude-3-5-haiku-20241022"))));
        assert_eq!(
            completion.map(|c| (c.text, c.model)),
            Ok(("hi".into(), Some("claude-3-5-haiku-20241022".into())))
        );
    }

    #[test]
    fn a_missing_empty_or_non_string_model_is_none_not_an_error() {
        for model in [
            None,
            Some(json!(null)),
            Some(json!(" ")),
            Some(json!(true)),
            Some(json!(["m"])),
        ] {
            let completion = parse_completion(&answer(model.clone()));
            assert_eq!(
                completion.map(|c| (c.text, c.output_tokens, c.model)),
                Ok(("hi".into(), Some(1), None)),
                "{model:?}"
            );
        }
    }
}
