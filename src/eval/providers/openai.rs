//! The OpenAI Chat Completions client (`POST {base_url}/chat/completions`), for OpenAI and any
//! OpenAI-compatible server. Sending and failure handling are the shared `http::Exchange`.

use reqwest::header::AUTHORIZATION;
use serde_json::{json, Map, Value};

use super::http::{empty_content, merge_params, messages_json, reported_model, Exchange};
use super::{Completion, ProviderError, Request};

const PROVIDER: &str = "openai";

pub struct OpenAi {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: Option<String>,
}

impl OpenAi {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        OpenAi {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
        }
    }

    pub async fn complete(&self, request: &Request) -> Result<Completion, ProviderError> {
        let url = format!("{}/chat/completions", self.base_url);
        let exchange = Exchange::new(PROVIDER, url, self.api_key.as_deref());
        let mut post = self.http.post(&exchange.url).json(&request_body(request));
        if let Some(auth) = exchange.key_header("Bearer ")? {
            post = post.header(AUTHORIZATION, auth);
        }
        let body = exchange.post_json(post).await?;
        parse_completion(&body).map_err(|what| exchange.malformed(&what, &body))
    }
}

/// `{"model", "messages", ...params}`.
fn request_body(request: &Request) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), messages_json(&request.messages));
    merge_params(&mut body, &request.params);
    Value::Object(body)
}

/// The text of `choices[0].message.content` and the token usage, or what the body lacks.
fn parse_completion(body: &Value) -> Result<Completion, String> {
    let choice = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or("has no choices")?;
    let text = match choice.pointer("/message/content") {
        Some(Value::String(text)) => text.clone(),
        // Content parts, as some compatible servers answer: `[{"type": "text", "text"}]`.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|part| part.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err("has content that is not text".into()),
    };
    if text.is_empty() {
        let finish = choice.get("finish_reason").and_then(Value::as_str);
        return Err(empty_content("finish_reason", finish));
    }
    Ok(Completion {
        text,
        input_tokens: body.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        output_tokens: body
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64),
        model: reported_model(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(model: Option<Value>) -> Value {
        let mut body = json!({
            "choices": [{"message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}
        });
        if let (Some(model), Some(fields)) = (model, body.as_object_mut()) {
            fields.insert("model".into(), model);
        }
        body
    }

    #[test]
    fn the_model_the_answer_names_is_kept() {
        let completion = parse_completion(&answer(Some(json!("gpt-4o-mini-2024-07-18"))));
        assert_eq!(
            completion.map(|c| (c.text, c.model)),
            Ok(("hi".into(), Some("gpt-4o-mini-2024-07-18".into())))
        );
    }

    #[test]
    fn a_missing_empty_or_non_string_model_is_none_not_an_error() {
        for model in [
            None,
            Some(json!(null)),
            Some(json!("")),
            Some(json!(4)),
            Some(json!({"id": "x"})),
        ] {
            let completion = parse_completion(&answer(model.clone()));
            assert_eq!(
                completion.map(|c| (c.text, c.input_tokens, c.model)),
                Ok(("hi".into(), Some(3), None)),
                "{model:?}"
            );
        }
    }
}
