//! The OpenAI and Anthropic clients against a scripted HTTP server on 127.0.0.1: the exact
//! requests they send, how they read answers, and how every failure is classified as
//! transient (retried) or permanent, with the API key never appearing in a message.

#[path = "common/http.rs"]
mod http;

use std::time::Duration;

use http::{Recorded, Reply, Server};
use promptgate::eval::providers::anthropic::Anthropic;
use promptgate::eval::providers::openai::OpenAi;
use promptgate::eval::providers::{ChatMessage, Completion, ProviderError, Request};
use serde_json::{json, Map, Value};

const KEY: &str = "sk-test-0123456789abcdef";

/// Both APIs share the error conventions, so most failure tests run against each.
#[derive(Debug, Clone, Copy)]
enum Api {
    OpenAi,
    Anthropic,
}

const BOTH: [Api; 2] = [Api::OpenAi, Api::Anthropic];

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }

    /// The endpoint a client posts to, given the server's root URL.
    fn endpoint(self, server: &Server) -> String {
        match self {
            Api::OpenAi => format!("{}/v1/chat/completions", server.url),
            Api::Anthropic => format!("{}/v1/messages", server.url),
        }
    }

    fn ok(self, text: &str) -> Reply {
        match self {
            Api::OpenAi => Reply::openai(text),
            Api::Anthropic => Reply::anthropic(text),
        }
    }

    /// Each 200 answer in `cases` is a permanent error whose message ends as given.
    async fn assert_permanent(self, cases: impl IntoIterator<Item = (Value, &str)>) {
        for (body, expected) in cases {
            let server = Server::script(vec![Reply::json(200, body)]);
            let message = expect_permanent(self.complete(&server.url, None).await);
            let endpoint = self.endpoint(&server);
            assert_contains(
                &message,
                &format!("{}: response from {endpoint} {expected}", self.name()),
            );
        }
    }

    async fn complete(
        self,
        root_url: &str,
        key: Option<&str>,
    ) -> Result<Completion, ProviderError> {
        self.complete_with(root_url, key, Duration::from_secs(5), &request())
            .await
    }

    async fn complete_with(
        self,
        root_url: &str,
        key: Option<&str>,
        timeout: Duration,
        request: &Request,
    ) -> Result<Completion, ProviderError> {
        let (http, key) = (client(timeout), key.map(String::from));
        match self {
            Api::OpenAi => {
                let base = format!("{root_url}/v1");
                OpenAi::new(http, &base, key).complete(request).await
            }
            Api::Anthropic => Anthropic::new(http, root_url, key).complete(request).await,
        }
    }
}

/// A plain-HTTP client; reqwest's rustls backend needs a crypto provider installed even so.
fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .expect("reqwest client")
}

fn message(role: &str, content: &str) -> ChatMessage {
    ChatMessage {
        role: role.into(),
        content: content.into(),
    }
}

fn params(value: Value) -> Map<String, Value> {
    value.as_object().expect("params object").clone()
}

fn request() -> Request {
    Request {
        model: "test-model".into(),
        messages: vec![message("system", "Be brief."), message("user", "Hi")],
        params: params(json!({"temperature": 0})),
    }
}

fn only_request(server: &Server) -> Recorded {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.into_iter().next().expect("one request")
}

fn expect_transient(result: Result<Completion, ProviderError>) -> (String, Option<Duration>) {
    match result {
        Err(ProviderError::Transient {
            message,
            retry_after,
        }) => (message, retry_after),
        other => panic!("expected a transient error, got {other:?}"),
    }
}

fn expect_permanent(result: Result<Completion, ProviderError>) -> String {
    match result {
        Err(ProviderError::Permanent { message }) => message,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in {haystack:?}"
    );
}

fn error_json(message: &str) -> Value {
    json!({"error": {"message": message, "type": "some_error"}})
}

// --- OpenAI: the request and the answer ---

#[tokio::test]
async fn openai_returns_text_token_counts_and_the_model_named() {
    let server = Server::script(vec![Reply::openai("Hello there")]);
    let completion = Api::OpenAi.complete(&server.url, Some(KEY)).await.unwrap();
    assert_eq!(
        completion,
        Completion {
            text: "Hello there".into(),
            input_tokens: Some(10),
            output_tokens: Some(5),
            model: Some("test-model".into()),
        }
    );
}

#[tokio::test]
async fn openai_posts_model_messages_and_params_with_a_bearer_key() {
    let server = Server::script(vec![Reply::openai("ok")]);
    let base = format!("{}/v1/", server.url); // the trailing slash is trimmed
    let client = OpenAi::new(client(Duration::from_secs(5)), &base, Some(KEY.into()));
    client.complete(&request()).await.unwrap();

    let sent = only_request(&server);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.json(),
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"}
            ],
            "temperature": 0
        })
    );
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization() {
    let server = Server::script(vec![Reply::openai("ok")]);
    Api::OpenAi.complete(&server.url, None).await.unwrap();
    assert_eq!(only_request(&server).header("authorization"), None);
}

#[tokio::test]
async fn params_never_replace_the_model_or_messages() {
    let server = Server::script(vec![Reply::openai("ok")]);
    let mut request = request();
    request.params = params(json!({"model": "other", "messages": [], "seed": 7}));
    let timeout = Duration::from_secs(5);
    Api::OpenAi
        .complete_with(&server.url, None, timeout, &request)
        .await
        .unwrap();
    let body = only_request(&server).json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["seed"], 7);
}

#[tokio::test]
async fn openai_joins_text_content_parts() {
    let parts = json!({
        "choices": [{"message": {"role": "assistant", "content": [
            {"type": "text", "text": "Hello, "},
            {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "text", "text": "world"}
        ]}}]
    });
    let server = Server::script(vec![Reply::json(200, parts)]);
    let completion = Api::OpenAi.complete(&server.url, None).await.unwrap();
    assert_eq!(completion.text, "Hello, world");
    assert_eq!(
        (completion.input_tokens, completion.output_tokens),
        (None, None)
    );
}

#[tokio::test]
async fn openai_answers_without_usable_text_are_permanent() {
    let cases = [
        (json!({"choices": []}), "has no choices"),
        (json!({"object": "chat.completion"}), "has no choices"),
        (
            json!({"choices": [{"message": {"content": ""}}]}),
            "has empty content",
        ),
        (
            json!({"choices": [{"message": {"content": null}, "finish_reason": "length"}]}),
            "has empty content (finish_reason: length)",
        ),
        (
            json!({"choices": [{"message": {"content": 42}}]}),
            "has content that is not text",
        ),
    ];
    Api::OpenAi.assert_permanent(cases).await;
}

// --- Anthropic: the request and the answer ---

#[tokio::test]
async fn anthropic_returns_text_token_counts_and_the_model_named() {
    let server = Server::script(vec![Reply::anthropic("Hello there")]);
    let completion = Api::Anthropic
        .complete(&server.url, Some(KEY))
        .await
        .unwrap();
    assert_eq!(
        completion,
        Completion {
            text: "Hello there".into(),
            input_tokens: Some(10),
            output_tokens: Some(5),
            model: Some("test-model".into()),
        }
    );
}

#[tokio::test]
async fn anthropic_hoists_system_messages_and_defaults_max_tokens() {
    let server = Server::script(vec![Reply::anthropic("ok")]);
    let mut request = request();
    request.messages = vec![
        message("system", "Be brief."),
        message("user", "Hi"),
        message("assistant", "Hello"),
        message("system", "Answer in French."),
        message("user", "Bye"),
    ];
    let timeout = Duration::from_secs(5);
    let base = format!("{}/", server.url);
    Api::Anthropic
        .complete_with(&base, Some(KEY), timeout, &request)
        .await
        .unwrap();

    let sent = only_request(&server);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        sent.json(),
        json!({
            "model": "test-model",
            "max_tokens": 1024,
            "system": "Be brief.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Bye"}
            ],
            "temperature": 0
        })
    );
}

#[tokio::test]
async fn anthropic_takes_max_tokens_from_params_and_omits_an_absent_system() {
    let server = Server::script(vec![Reply::anthropic("ok")]);
    let request = Request {
        model: "test-model".into(),
        messages: vec![message("user", "Hi")],
        params: params(json!({"max_tokens": 50, "top_k": 3})),
    };
    let timeout = Duration::from_secs(5);
    Api::Anthropic
        .complete_with(&server.url, None, timeout, &request)
        .await
        .unwrap();

    let sent = only_request(&server);
    assert_eq!(sent.header("x-api-key"), None);
    assert_eq!(
        sent.json(),
        json!({
            "model": "test-model",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hi"}],
            "top_k": 3
        })
    );
}

#[tokio::test]
async fn anthropic_joins_text_blocks_and_skips_others() {
    let body = json!({
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Paris is "},
            {"type": "text", "text": "the capital."}
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 4}
    });
    let server = Server::script(vec![Reply::json(200, body)]);
    let completion = Api::Anthropic.complete(&server.url, None).await.unwrap();
    assert_eq!(completion.text, "Paris is the capital.");
    assert_eq!(
        (completion.input_tokens, completion.output_tokens),
        (Some(12), Some(4))
    );
}

#[tokio::test]
async fn anthropic_answers_without_usable_text_are_permanent() {
    let cases = [
        (json!({"type": "message"}), "has no content"),
        (json!({"content": []}), "has empty content"),
        (
            json!({"content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                   "stop_reason": "tool_use"}),
            "has empty content (stop_reason: tool_use)",
        ),
        (
            json!({"content": [{"type": "text", "text": ""}], "stop_reason": "max_tokens"}),
            "has empty content (stop_reason: max_tokens)",
        ),
    ];
    Api::Anthropic.assert_permanent(cases).await;
}

// --- Both: failures ---

#[tokio::test]
async fn rate_limits_are_transient_and_carry_retry_after() {
    for api in BOTH {
        let limited = Reply::json(429, error_json("rate limited")).with_header("Retry-After", "2");
        let server = Server::script(vec![limited]);
        let (message, retry_after) = expect_transient(api.complete(&server.url, Some(KEY)).await);
        let expected = format!(
            "{}: 429 Too Many Requests from {}: rate limited",
            api.name(),
            api.endpoint(&server)
        );
        assert_eq!(message, expected);
        assert_eq!(retry_after, Some(Duration::from_secs(2)));
    }
}

#[tokio::test]
async fn retry_after_accepts_http_dates_and_openai_milliseconds() {
    let past_date = Reply::json(429, error_json("slow down"))
        .with_header("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT");
    let server = Server::script(vec![past_date]);
    let (_, retry_after) = expect_transient(Api::OpenAi.complete(&server.url, None).await);
    assert_eq!(retry_after, Some(Duration::ZERO));

    let millis = Reply::json(429, error_json("slow down"))
        .with_header("retry-after-ms", "1500")
        .with_header("Retry-After", "2");
    let server = Server::script(vec![millis]);
    let (_, retry_after) = expect_transient(Api::OpenAi.complete(&server.url, None).await);
    assert_eq!(retry_after, Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn server_errors_quote_an_html_page() {
    let page = "<html>\n  <body><h1>503 Service Temporarily Unavailable</h1></body>\n</html>\n";
    for api in BOTH {
        let server = Server::script(vec![Reply::text(503, "text/html", page)]);
        let (message, retry_after) = expect_transient(api.complete(&server.url, None).await);
        let expected = format!(
            "{}: 503 Service Unavailable from {}: <html> <body><h1>503 Service Temporarily \
             Unavailable</h1></body> </html>",
            api.name(),
            api.endpoint(&server)
        );
        assert_eq!(message, expected);
        assert_eq!(retry_after, None);
    }
}

#[tokio::test]
async fn server_errors_prefer_the_api_error_message() {
    for api in BOTH {
        let body = json!({"type": "error", "error": {"type": "api_error", "message": "Internal error, sorry"}});
        let server = Server::script(vec![Reply::json(500, body)]);
        let (message, _) = expect_transient(api.complete(&server.url, None).await);
        assert!(message.ends_with(": Internal error, sorry"), "{message}");
        assert!(!message.contains("api_error"), "{message}");
    }
}

#[tokio::test]
async fn timeout_conflict_and_overload_statuses_are_transient() {
    for status in [408, 409, 502, 529] {
        let server = Server::script(vec![Reply::json(status, error_json("try again"))]);
        let (message, _) = expect_transient(Api::Anthropic.complete(&server.url, None).await);
        assert_contains(&message, &format!("anthropic: {status}"));
    }
}

#[tokio::test]
async fn client_errors_are_permanent() {
    for api in BOTH {
        let body = json!({"error": {"message": "max_tokens: must be positive"}});
        let server = Server::script(vec![Reply::json(400, body)]);
        let message = expect_permanent(api.complete(&server.url, Some(KEY)).await);
        let expected = format!(
            "{}: 400 Bad Request from {}: max_tokens: must be positive",
            api.name(),
            api.endpoint(&server)
        );
        assert_eq!(message, expected);

        let server = Server::script(vec![Reply::text(404, "text/plain", "no such route")]);
        let message = expect_permanent(api.complete(&server.url, None).await);
        assert_contains(&message, "404 Not Found");
        assert_contains(
            &message,
            "no such route (check base_url and the model name)",
        );
    }
}

#[tokio::test]
async fn a_rejected_key_is_permanent_and_never_echoed() {
    for api in BOTH {
        // A careless server quotes the key back, in the body and its headers.
        let server = Server::start(|request| {
            let key = request
                .header("x-api-key")
                .or_else(|| request.header("authorization"))
                .unwrap_or("none")
                .to_string();
            let text = format!("Incorrect API key provided: {key}");
            Reply::json(401, error_json(&text)).with_header("X-Echo", &key)
        });
        let message = expect_permanent(api.complete(&server.url, Some(KEY)).await);
        assert!(!message.contains(KEY), "{message}");
        assert!(!message.contains("0123456789abcdef"), "{message}");
        assert_contains(&message, "401 Unauthorized");
        assert_contains(&message, "Incorrect API key provided: ");
        assert_contains(&message, "[redacted]");
        assert_contains(&message, "the API key was rejected: check the key");
    }
}

#[tokio::test]
async fn a_key_echoed_in_a_malformed_answer_is_redacted() {
    for api in BOTH {
        let body = json!({"echo": KEY});
        let server = Server::script(vec![Reply::json(200, body)]);
        let message = expect_permanent(api.complete(&server.url, Some(KEY)).await);
        assert!(!message.contains(KEY), "{message}");
        assert_contains(&message, "[redacted]");
    }
}

#[tokio::test]
async fn a_missing_key_says_so_on_401() {
    for api in BOTH {
        let server = Server::script(vec![Reply::json(401, error_json("missing key"))]);
        let message = expect_permanent(api.complete(&server.url, None).await);
        assert_contains(&message, "no API key was sent");
    }
}

#[tokio::test]
async fn success_statuses_without_json_are_permanent() {
    let html = "<!doctype html><html><body>Welcome to nginx!</body></html>";
    for api in BOTH {
        for reply in [
            Reply::text(200, "text/html", html),
            Reply::text(200, "application/json", "{\"choices\": ["),
            Reply::text(200, "application/json", ""),
        ] {
            let server = Server::script(vec![reply.clone()]);
            let message = expect_permanent(api.complete(&server.url, None).await);
            let shown = if reply.body.is_empty() {
                "empty body"
            } else {
                reply.body.as_str()
            };
            let expected = format!(
                "{}: response from {} is not JSON: {shown}",
                api.name(),
                api.endpoint(&server)
            );
            assert_eq!(message, expected);
        }
    }
}

#[tokio::test]
async fn a_slow_server_times_out_as_transient() {
    for api in BOTH {
        let server = Server::script(vec![api.ok("late").after(Duration::from_secs(5))]);
        let timeout = Duration::from_millis(200);
        let result = api
            .complete_with(&server.url, None, timeout, &request())
            .await;
        let (message, retry_after) = expect_transient(result);
        let expected = format!(
            "{}: no response from {} within the client timeout",
            api.name(),
            api.endpoint(&server)
        );
        assert_contains(&message, &expected);
        assert_eq!(retry_after, None);
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    for api in BOTH {
        let (message, _) = expect_transient(api.complete(&url, Some(KEY)).await);
        let endpoint = match api {
            Api::OpenAi => format!("{url}/v1/chat/completions"),
            Api::Anthropic => format!("{url}/v1/messages"),
        };
        assert_contains(
            &message,
            &format!("{}: cannot connect to {endpoint}: ", api.name()),
        );
    }
}

// --- The test server itself ---

#[tokio::test]
async fn the_server_keeps_connections_alive_and_follows_its_script() {
    let server = Server::script(vec![Reply::openai("one"), Reply::openai("two")]);
    let client = OpenAi::new(
        client(Duration::from_secs(5)),
        &format!("{}/v1", server.url),
        None,
    );
    let mut texts = Vec::new();
    for _ in 0..3 {
        texts.push(client.complete(&request()).await.unwrap().text);
    }
    assert_eq!(texts, ["one", "two", "two"]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_dropped_server_stops_listening_and_ends_pending_delays() {
    use std::io::{Read, Write};
    let server = Server::script(vec![Reply::openai("late").after(Duration::from_secs(30))]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    while server.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = std::time::Instant::now();
    drop(server);
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest); // the connection closes instead of answering late
    assert!(rest.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(std::net::TcpStream::connect(&addr).is_err());
}
