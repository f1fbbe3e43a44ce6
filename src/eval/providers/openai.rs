//! Placeholder: replaced by the OpenAI Chat Completions client.

use super::{Completion, ProviderError, Request};

pub struct OpenAi {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: Option<String>,
}

impl OpenAi {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        OpenAi { http, base_url: base_url.trim_end_matches('/').to_string(), api_key }
    }

    pub async fn complete(&self, _request: &Request) -> Result<Completion, ProviderError> {
        Err(ProviderError::permanent("openai client not built yet"))
    }
}
