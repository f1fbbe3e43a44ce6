//! Placeholder: replaced by the Anthropic Messages client.

use super::{Completion, ProviderError, Request};

pub struct Anthropic {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: Option<String>,
}

impl Anthropic {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        Anthropic { http, base_url: base_url.trim_end_matches('/').to_string(), api_key }
    }

    pub async fn complete(&self, _request: &Request) -> Result<Completion, ProviderError> {
        Err(ProviderError::permanent("anthropic client not built yet"))
    }
}
