//! `promptgate eval` end to end: the real binary against real HTTP servers on 127.0.0.1
//! speaking the OpenAI and Anthropic protocols, real `exec` commands, replay cassettes, the
//! cache, repeats, retries, budgets, shards, and every way a run must fail closed.

mod common;
#[path = "common/http.rs"]
mod http;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{assert_contains, TestRepo};
use http::{Recorded, Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";
const KEY: &str = "sk-test-0123456789abcdef";

/// A repo with one gated surface `support` whose provider is `provider_toml`, a prompt
/// asking `{{ question }}`, and `cases` (JSONL lines); committed.
fn repo(provider_toml: &str, cases: &[Value], extra: &str) -> TestRepo {
    let repo = TestRepo::new();
    let config = format!(
        "{extra}\n[provider.main]\n{provider_toml}\n\n[[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n"
    );
    let lines: String = cases.iter().map(|c| format!("{c}\n")).collect();
    repo.write("promptgate.toml", config)
        .write("prompts/answer.md", "Answer briefly: {{ question }}\n")
        .write("evals/support.jsonl", lines);
    repo.commit("suite");
    repo
}

fn openai(server: &Server, more: &str) -> String {
    format!("kind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n{more}", server.url)
}

fn case(id: &str, question: &str, asserts: Value) -> Value {
    json!({"id": id, "vars": {"question": question}, "assert": asserts})
}

fn eval(repo: &TestRepo, args: &[&str]) -> common::Run {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    common::run_with_env(repo.path(), &all, &[(KEY_VAR, KEY)])
}

fn eval_json(repo: &TestRepo, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = eval(repo, &all);
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr));
    (run.code, json)
}

/// The last user message of a recorded Chat Completions request.
fn question(request: &Recorded) -> String {
    request.prompt()
}

fn case_by_id<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no case {id} in {json:#}"))
}

#[test]
fn runs_cases_grades_them_and_reports_cases_and_surfaces() {
    let server = Server::start(|request| {
        if question(request).contains("refund") {
            Reply::openai("Refunds take 5 days.")
        } else {
            Reply::openai("I do not know.")
        }
    });
    let cases = [
        case(
            "refund",
            "How long do refunds take?",
            json!([{"type": "icontains", "value": "5 days", "metric": "accuracy"}]),
        ),
        case(
            "weather",
            "Is it sunny?",
            json!([{"type": "icontains", "value": "sunny", "metric": "accuracy"}]),
        ),
    ];
    let repo = repo(&openai(&server, ""), &cases, "");
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(case_by_id(&json, "refund")["status"], "pass");
    let weather = case_by_id(&json, "weather");
    assert_eq!(weather["status"], "fail");
    assert_eq!(weather["trials"][0]["output"], "I do not know.");
    assert_eq!(weather["trials"][0]["assertions"][0]["pass"], false);
    let surface = &json["surfaces"][0];
    assert_eq!(
        (surface["passed"].as_u64(), surface["cases"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(surface["pass_rate"], 0.5);
    assert_eq!(surface["metrics"]["accuracy"]["mean"], 0.5);
    assert_eq!(surface["input_tokens"], 20);
    // gpt-4o-mini at $0.15 / $0.60 per million tokens: 2 × (10 in + 5 out).
    let cost = surface["cost_usd"].as_f64().expect("cost");
    assert!(
        (cost - 2.0 * (10.0 * 0.15 + 5.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent[0].json()["model"], "gpt-4o-mini");
}

#[test]
fn text_report_names_failures() {
    let server = Server::start(|_| Reply::openai("no idea"));
    let repo = repo(
        &openai(&server, ""),
        &[case(
            "c1",
            "q",
            json!([{"type": "contains", "value": "refund"}]),
        )],
        "",
    );
    let run = eval(&repo, &["--color", "never"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains(&run.stdout, "pass rate 0.0% (0/1)");
    assert_contains(&run.stdout, "failed c1  contains: ");
}

#[test]
fn a_rerun_comes_from_the_cache_and_no_cache_calls_again() {
    let server = Server::start(|_| Reply::openai("cached answer"));
    let cases: Vec<Value> = (0..5)
        .map(|i| case(&format!("c{i}"), &format!("q{i}"), json!([])))
        .collect();
    let repo = repo(&openai(&server, ""), &cases, "");
    let (_, first) = eval_json(&repo, &[]);
    assert_eq!(
        (first["calls"].as_u64(), first["cache_hits"].as_u64()),
        (Some(5), Some(0))
    );
    let (code, second) = eval_json(&repo, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        (second["calls"].as_u64(), second["cache_hits"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(server.requests().len(), 5);
    assert_eq!(case_by_id(&second, "c3")["trials"][0]["cached"], true);
    assert_eq!(second["spent_usd"], 0.0);
    let (_, third) = eval_json(&repo, &["--no-cache"]);
    assert_eq!(third["calls"], 5);
    assert_eq!(server.requests().len(), 10);
}

/// An OpenAI answer naming `model` as the one that wrote it.
fn answer_from(model: &str, text: &str) -> Reply {
    let mut body: Value = serde_json::from_str(&Reply::openai(text).body).expect("json");
    body["model"] = json!(model);
    Reply::json(200, body)
}

#[test]
fn the_model_the_answers_name_is_reported_live_and_from_the_cache() {
    // The provider quietly moves one answer in four to a newer snapshot of the model.
    let server = Server::start(|request| {
        let model = if question(request).contains("q3") {
            "gpt-4o-mini-2024-11-20"
        } else {
            "gpt-4o-mini-2024-07-18"
        };
        answer_from(model, "ok")
    });
    let cases: Vec<Value> = (0..4)
        .map(|i| case(&format!("c{i}"), &format!("q{i}"), json!([])))
        .collect();
    let repo = repo(&openai(&server, ""), &cases, "");
    let (code, live) = eval_json(&repo, &[]);
    assert_eq!((code, live["calls"].as_u64()), (0, Some(4)), "{live:#}");
    let (code, cached) = eval_json(&repo, &[]);
    assert_eq!(
        (code, cached["cache_hits"].as_u64()),
        (0, Some(4)),
        "{cached:#}"
    );
    assert_eq!(server.requests().len(), 4);
    for json in [&live, &cached] {
        let surface = &json["surfaces"][0];
        assert_eq!(
            surface["model_reported"], "gpt-4o-mini-2024-07-18",
            "{json:#}"
        );
        assert_eq!(
            surface["models_reported"],
            json!({"gpt-4o-mini-2024-07-18": 3, "gpt-4o-mini-2024-11-20": 1})
        );
        assert_eq!(
            case_by_id(json, "c3")["trials"][0]["model_reported"],
            "gpt-4o-mini-2024-11-20"
        );
    }
    // One model named throughout: no breakdown; no model named: null.
    let server = Server::start(|_| answer_from("gpt-4o-mini-2024-07-18", "ok"));
    let repo = self::repo(&openai(&server, ""), &cases, "");
    let (_, single) = eval_json(&repo, &[]);
    assert_eq!(
        single["surfaces"][0]["model_reported"],
        "gpt-4o-mini-2024-07-18"
    );
    assert!(
        single["surfaces"][0].get("models_reported").is_none(),
        "{single:#}"
    );
    let repo = self::repo("kind = \"exec\"\ncommand = [\"echo\", \"ok\"]", &cases, "");
    let (_, unnamed) = eval_json(&repo, &[]);
    assert!(
        unnamed["surfaces"][0]["model_reported"].is_null(),
        "{unnamed:#}"
    );
}

#[test]
fn repeats_are_separate_samples_folded_by_quorum_and_flaky_cases_are_flagged() {
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    // Answers alternate, so a case with 3 trials sees right, wrong, right (or the reverse).
    let server = Server::start(move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        Reply::openai(if n % 2 == 0 { "yes" } else { "no" })
    });
    let repo = repo(
        &openai(&server, "concurrency = 1"),
        &[case("c1", "q", json!([{"type": "equals", "value": "yes"}]))],
        "[gate]\nrepeat = 3\n",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0);
    let c1 = case_by_id(&json, "c1");
    assert_eq!(c1["trials"].as_array().map(Vec::len), Some(3));
    assert_eq!(c1["passed_trials"], 2);
    assert_eq!(c1["status"], "pass");
    assert_eq!(c1["flaky"], true);
    assert_eq!(json["surfaces"][0]["flaky"], 1);
    // Three trials, three cache entries: the rerun replays the same samples.
    let (_, again) = eval_json(&repo, &[]);
    assert_eq!(again["cache_hits"], 3);
    let outputs = |case: &Value| -> Vec<Value> {
        case["trials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["output"].clone())
            .collect()
    };
    assert_eq!(outputs(case_by_id(&again, "c1")), outputs(c1));
}

#[test]
fn retries_honour_retry_after_and_then_succeed() {
    let server = Server::script(vec![
        Reply::json(429, json!({"error": {"message": "slow down"}}))
            .with_header("Retry-After", "1"),
        Reply::json(503, json!({"error": {"message": "overloaded"}})),
        Reply::openai("fine"),
    ]);
    let repo = repo(
        &openai(&server, "max_retries = 3"),
        &[case(
            "c1",
            "q",
            json!([{"type": "equals", "value": "fine"}]),
        )],
        "",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(case_by_id(&json, "c1")["status"], "pass");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_call_failing_after_retries_is_an_error_and_the_run_exits_4() {
    let server =
        Server::start(|_| Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let repo = repo(
        &openai(&server, "max_retries = 1"),
        &[case("c1", "q", json!([]))],
        "",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 4);
    let c1 = case_by_id(&json, "c1");
    assert_eq!(c1["status"], "error");
    let error = c1["trials"][0]["error"].as_str().expect("error");
    assert!(
        error.contains("upstream exploded") && error.contains("after 2 attempts"),
        "{error}"
    );
    assert_eq!(json["surfaces"][0]["complete"], false);
    assert_eq!(json["surfaces"][0]["passed"], 0);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn malformed_responses_are_errors_not_outputs() {
    for reply in [
        Reply::text(200, "text/html", "<html><body>Gateway</body></html>"),
        Reply::json(200, json!({"choices": []})),
        Reply::openai(""),
    ] {
        let server = Server::script(vec![reply]);
        let repo = repo(
            &openai(&server, "max_retries = 0"),
            &[case(
                "c1",
                "q",
                json!([{"type": "not-contains", "value": "x"}]),
            )],
            "",
        );
        let (code, json) = eval_json(&repo, &[]);
        assert_eq!(code, 4, "{json:#}");
        assert_eq!(case_by_id(&json, "c1")["status"], "error");
        assert_eq!(case_by_id(&json, "c1")["trials"][0].get("output"), None);
    }
}

#[test]
fn the_api_key_never_appears_in_output() {
    let server = Server::start(|r| {
        let key = r.header("authorization").unwrap_or_default().to_string();
        Reply::json(
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {key}")}}),
        )
    });
    let repo = repo(&openai(&server, ""), &[case("c1", "q", json!([]))], "");
    for format in ["json", "text"] {
        let run = eval(&repo, &["--format", format]);
        assert_eq!(run.code, 4);
        assert!(
            !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
            "key leaked: {}{}",
            run.stdout,
            run.stderr
        );
        assert_contains(&run.stdout, "401");
    }
}

#[test]
fn a_timeout_is_an_error_naming_it() {
    let server = Server::start(|_| Reply::openai("late").after(std::time::Duration::from_secs(5)));
    let repo = repo(
        &openai(&server, "timeout_secs = 1\nmax_retries = 0"),
        &[case("c1", "q", json!([]))],
        "",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 4);
    let error = case_by_id(&json, "c1")["trials"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );
}

#[test]
fn a_missing_api_key_fails_closed_without_a_call_and_a_cached_run_needs_none() {
    let server = Server::start(|_| Reply::openai("x"));
    let repo = repo(&openai(&server, ""), &[case("c1", "q", json!([]))], "");
    // No key, nothing cached: an error (exit 4, missing credentials), and no request is sent.
    let run = common::run_in(repo.path(), &["eval"]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert_contains(&format!("{}{}", run.stdout, run.stderr), KEY_VAR);
    assert_eq!(server.requests().len(), 0);
    // With the key once, the answer is cached; then the run needs no key at all.
    assert_eq!(eval(&repo, &[]).code, 0);
    assert_eq!(server.requests().len(), 1);
    let cached = common::run_in(repo.path(), &["eval"]);
    assert_eq!(cached.code, 0, "{}{}", cached.stdout, cached.stderr);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn bad_assertions_are_exit_5_naming_file_line_and_case_before_any_call() {
    let server = Server::start(|_| Reply::openai("x"));
    let cases = [
        case("ok", "q", json!([{"type": "contains", "value": "x"}])),
        case("typo", "q", json!([{"type": "containz", "value": "x"}])),
        case(
            "regex",
            "q",
            json!([{"type": "regex", "value": "(unclosed"}]),
        ),
    ];
    let repo = repo(&openai(&server, ""), &cases, "");
    let run = eval(&repo, &[]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_contains(
        &run.stderr,
        "evals/support.jsonl:2: case `typo`, assertion 1:",
    );
    assert_contains(&run.stderr, "containz");
    assert_contains(
        &run.stderr,
        "evals/support.jsonl:3: case `regex`, assertion 1:",
    );
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn duplicate_ids_and_missing_ids_are_exit_5() {
    let server = Server::start(|_| Reply::openai("x"));
    let repo = repo(
        &openai(&server, ""),
        &[
            case("a", "q", json!([])),
            case("a", "q", json!([])),
            json!({"vars": {"question": "q"}}),
        ],
        "",
    );
    let run = eval(&repo, &[]);
    assert_eq!(run.code, 5);
    assert_contains(&run.stderr, "duplicate case id `a`");
    assert_contains(&run.stderr, "case has no `id`");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn exec_provider_runs_a_local_command_without_a_shell() {
    let provider = "kind = \"exec\"\ncommand = [\"sh\", \"-c\", \"tr a-z A-Z\"]";
    let cases = [case(
        "c1",
        "where is the $HOME; rm -rf /",
        json!([{"type": "contains", "value": "WHERE IS THE $HOME; RM -RF /"}]),
    )];
    let repo = repo(provider, &cases, "");
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(case_by_id(&json, "c1")["status"], "pass");
}

#[test]
fn exec_provider_can_read_the_json_request_from_a_file() {
    let provider = "kind = \"exec\"\ncommand = [\"sh\", \"-c\", \"grep -c gpt-local \\\"$0\\\"\", \"{request_file}\"]\nmodel = \"gpt-local\"\ninput = \"json\"";
    let repo = repo(
        provider,
        &[case("c1", "q", json!([{"type": "equals", "value": "1"}]))],
        "",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(case_by_id(&json, "c1")["status"], "pass");
}

#[test]
fn replay_records_from_a_real_provider_then_replays_offline() {
    let server =
        Server::start(|request| Reply::openai(&format!("answer to {}", question(request))));
    let config = format!(
        "[provider.live]\n{}\n\n[provider.tape]\nkind = \"replay\"\ncassette = \"fixtures/support.cassette.jsonl\"\nrecord_from = \"live\"\n",
        openai(&server, "")
    );
    let repo = TestRepo::new();
    repo.write("promptgate.toml", format!("{config}\n[[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/c.jsonl\"\nprovider = \"tape\"\ntier = \"self\"\nmin_pass_rate = 1.0\n"))
        .write("prompts/answer.md", "{{ question }}\n")
        .write("evals/c.jsonl", format!("{}\n{}\n", case("a", "one", json!([{"type": "contains", "value": "answer to one"}])), case("b", "two", json!([]))));
    repo.commit("suite");
    let (code, _) = eval_json(&repo, &["--record", "--no-cache"]);
    assert_eq!(code, 0);
    assert_eq!(server.requests().len(), 2);
    // Recording again from the cache makes no call and writes every answer once, also
    // into a cassette started afresh.
    let path = repo.path().join("fixtures/support.cassette.jsonl");
    let first = std::fs::read_to_string(&path).expect("cassette");
    for fresh in [false, true] {
        if fresh {
            std::fs::remove_file(&path).expect("remove the cassette");
        }
        let (code, _) = eval_json(&repo, &["--record"]);
        assert_eq!(code, 0);
        assert_eq!(server.requests().len(), 2);
        let cassette = std::fs::read_to_string(&path).expect("cassette");
        assert_eq!(cassette.lines().count(), 2, "{cassette}");
        let mut lines: Vec<&str> = cassette.lines().collect();
        let mut expected: Vec<&str> = first.lines().collect();
        lines.sort_unstable();
        expected.sort_unstable();
        assert_eq!(lines, expected);
    }
    drop(server);
    let (code, json) = eval_json(&repo, &["--no-cache"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(case_by_id(&json, "a")["status"], "pass");
    // The prompt file's final newline is not sent (as in Jinja and promptfoo).
    assert_eq!(
        case_by_id(&json, "a")["trials"][0]["output"],
        "answer to one"
    );
}

#[test]
fn replay_without_a_recording_is_an_error() {
    let repo = repo(
        "kind = \"replay\"\ncassette = \"fixtures/empty.jsonl\"\nmodel = \"m\"",
        &[case("c1", "q", json!([]))],
        "",
    );
    repo.write("fixtures/empty.jsonl", "");
    repo.commit("cassette");
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 4);
    assert_contains(
        case_by_id(&json, "c1")["trials"][0]["error"]
            .as_str()
            .unwrap_or_default(),
        "--record",
    );
}

#[test]
fn the_budget_stops_the_run_before_it_is_exceeded() {
    let server = Server::start(|_| Reply::openai("x"));
    let cases: Vec<Value> = (0..20)
        .map(|i| case(&format!("c{i:02}"), &format!("q{i}"), json!([])))
        .collect();
    // Each call costs $0.0000045 but is estimated (256 output tokens) at about $0.000155, so
    // the run stops once what was spent plus that estimate would pass the budget.
    let repo = repo(
        &openai(&server, "concurrency = 1"),
        &cases,
        "[gate]\nmax_cost_usd = 0.00018\n",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 4);
    let calls = server.requests().len();
    assert!(calls > 0 && calls < 20, "{calls} calls");
    assert!(json["spent_usd"].as_f64().unwrap_or(1.0) <= 0.00018);
    let errors: Vec<&Value> = json["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "error")
        .collect();
    assert_contains(
        errors[0]["trials"][0]["error"].as_str().unwrap_or_default(),
        "max_cost_usd",
    );
}

#[test]
fn shards_split_the_cases_without_overlap() {
    let server = Server::start(|_| Reply::openai("x"));
    let cases: Vec<Value> = (0..30)
        .map(|i| case(&format!("c{i:02}"), "q", json!([])))
        .collect();
    let repo = repo(&openai(&server, ""), &cases, "");
    let ids = |shard: &str| -> Vec<String> {
        let (_, json) = eval_json(&repo, &["--shard", shard]);
        json["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (mut one, two) = (ids("1/2"), ids("2/2"));
    assert!(!one.is_empty() && !two.is_empty());
    assert!(one.iter().all(|id| !two.contains(id)));
    one.extend(two);
    one.sort();
    assert_eq!(one.len(), 30);
    let run = eval(&repo, &["--shard", "3/2"]);
    assert_eq!(run.code, 2);
}

#[test]
fn anthropic_provider_end_to_end() {
    let server = Server::start(|_| Reply::anthropic("Bonjour"));
    let provider = format!("kind = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-3-5-haiku-latest\"\napi_key_env = \"{KEY_VAR}\"", server.url);
    let repo = repo(
        &provider,
        &[case(
            "c1",
            "q",
            json!([{"type": "equals", "value": "Bonjour"}]),
        )],
        "",
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(case_by_id(&json, "c1")["status"], "pass");
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(KEY));
}

#[test]
fn llm_rubric_is_graded_by_the_grader_provider() {
    let server = Server::start(|request| {
        let body = request.body.clone();
        if body.contains("rubric") || body.contains("Rubric") {
            Reply::openai(
                r#"```json
{"pass": false, "score": 0.25, "reason": "rude"}
```"#,
            )
        } else {
            Reply::openai("Go away.")
        }
    });
    let config_extra = format!(
        "[gate]\ngrader = \"judge\"\n\n[provider.judge]\n{}\n",
        openai(&server, "").replace("gpt-4o-mini", "gpt-4o")
    );
    let repo = repo(
        &openai(&server, ""),
        &[case(
            "c1",
            "q",
            json!([{"type": "llm-rubric", "value": "is polite", "metric": "tone"}]),
        )],
        &config_extra,
    );
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0, "{json:#}");
    let c1 = case_by_id(&json, "c1");
    assert_eq!(c1["status"], "fail");
    assert_eq!(c1["trials"][0]["assertions"][0]["score"], 0.25);
    assert_eq!(json["surfaces"][0]["metrics"]["tone"]["mean"], 0.25);
    let grader_calls = server
        .requests()
        .iter()
        .filter(|r| r.json()["model"] == "gpt-4o")
        .count();
    assert_eq!(grader_calls, 1);
}

#[test]
fn out_dir_gets_the_full_results() {
    let server = Server::start(|_| Reply::openai("x"));
    let repo = repo(&openai(&server, ""), &[case("c1", "q", json!([]))], "");
    let out = repo.path().join("out");
    let run = eval(&repo, &["--out", out.to_str().unwrap_or_default()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).expect("eval.json"))
            .expect("json");
    assert_eq!(written["cases"][0]["id"], "c1");
    assert_eq!(written["surfaces"][0]["name"], "support");
}

#[test]
fn eval_shards_merge_into_the_results_of_one_run() {
    let server = Server::start(|request| {
        Reply::openai(if question(request).contains('7') {
            "no"
        } else {
            "yes"
        })
    });
    let cases: Vec<Value> = (0..20)
        .map(|i| {
            case(
                &format!("c{i:02}"),
                &format!("q{i}"),
                json!([{"type": "equals", "value": "yes", "metric": "m"}]),
            )
        })
        .collect();
    let repo = repo(&openai(&server, ""), &cases, "");
    let (_, single) = eval_json(&repo, &[]);
    let dirs: Vec<String> = (1..=2)
        .map(|k| repo.path().join(format!("e{k}")).display().to_string())
        .collect();
    for (k, dir) in dirs.iter().enumerate() {
        let run = eval(&repo, &["--shard", &format!("{}/2", k + 1), "--out", dir]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let run = common::run_in(
        repo.path(),
        &["merge", "--format", "json", &dirs[0], &dirs[1]],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let merged: Value = serde_json::from_str(&run.stdout).expect("json");
    for field in [
        "cases",
        "passed",
        "failed",
        "pass_rate",
        "metrics",
        "input_tokens",
        "model_reported",
    ] {
        assert_eq!(
            merged["surfaces"][0][field], single["surfaces"][0][field],
            "{field}"
        );
    }
    assert_eq!(merged["cases"].as_array().map(Vec::len), Some(20));
    assert_eq!(merged["surfaces"][0]["model_reported"], "test-model");
}

/// `eval` never ends in success having evaluated nothing: a surface whose prompt globs match
/// no file at the revision is a config error (exit 5, like a missing case file) at the
/// globs' place, naming the surface and the globs, before any call.
#[test]
fn a_surface_whose_globs_match_nothing_is_an_error_naming_surface_and_glob() {
    let server = Server::start(|_| Reply::openai("x"));
    let repo = repo(&openai(&server, ""), &[case("c1", "q", json!([]))], "");
    let config = std::fs::read_to_string(repo.path().join("promptgate.toml"))
        .expect("read")
        .replace("prompts/*.md", "prompts/typo/*.md");
    repo.write("promptgate.toml", &config);
    repo.commit("typo in the globs");
    let line = config
        .lines()
        .position(|l| l.starts_with("prompts = "))
        .expect("line")
        + 1;
    let run = eval(&repo, &[]);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(":{line}:11: surface `support`: its prompt glob(s) `prompts/typo/*.md` match no prompt file")),
        "{}",
        run.stderr
    );
    // The working tree by default; `--rev` names the revision the file was read at.
    assert_contains(&run.stderr, "error: promptgate.toml:");
    let at_head = eval(&repo, &["--rev", "HEAD"]);
    assert_eq!(at_head.code, 5, "{}", at_head.stderr);
    assert_contains(&at_head.stderr, "error: promptgate.toml@");
    assert_eq!(server.requests().len(), 0);
}

/// The config `eval` loads is checked by the same parser as `validate`'s: out-of-bound
/// knobs and a `base_url` that is no http(s) URL stop the run before any call (exit 5, at
/// the value's line), never an abort or a run with an unbounded value.
#[test]
fn out_of_bound_knobs_and_bad_urls_stop_eval_before_any_call() {
    let server = Server::start(|_| Reply::openai("x"));
    // (extra config before the provider, provider keys, the message)
    let rows: &[(&str, &str, &str)] = &[
        (
            "[gate]\nrepeat = 4294967295",
            "",
            "`repeat` must be between 1 and 100, not 4294967295",
        ),
        (
            "",
            "timeout_secs = 18446744073709551615",
            "`timeout_secs` must be between 1 and 3600",
        ),
        (
            "",
            "concurrency = 0",
            "`concurrency` must be between 1 and 256, not 0",
        ),
    ];
    let mut failures = Vec::new();
    for (extra, more, message) in rows {
        let repo = repo(&openai(&server, more), &[case("c1", "q", json!([]))], extra);
        let run = eval(&repo, &[]);
        let right = run.code == 5
            && run.stderr.contains("error: promptgate.toml:")
            && run.stderr.contains(message);
        if !right {
            failures.push(format!("{message}: exit {}\n{}", run.code, run.stderr));
        }
    }
    let repo = repo(
        "kind = \"openai\"\nbase_url = \"ftp://127.0.0.1/v1\"\nmodel = \"m\"",
        &[case("c1", "q", json!([]))],
        "",
    );
    let run = eval(&repo, &[]);
    let message = "`base_url` `ftp://127.0.0.1/v1` is not an http(s) URL";
    if run.code != 5 || !run.stderr.contains(message) {
        failures.push(format!("{message}: exit {}\n{}", run.code, run.stderr));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn an_unknown_price_under_a_budget_names_the_model_the_calls_use() {
    let server = Server::start(|_| Reply::openai("x"));
    let repo = repo(
        &openai(&server, ""),
        &[case("a", "q", json!([]))],
        "[gate]\nmax_cost_usd = 1.0\n",
    );
    repo.write(
        "prompts/answer.md",
        "---\nmodel: o1-pro-unpriced\n---\nAnswer briefly: {{ question }}\n",
    );
    repo.commit("front matter picks a model");
    let run = eval(&repo, &[]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_contains(&run.stderr, "the price of model `o1-pro-unpriced`");
    assert!(server.requests().is_empty());
}

#[test]
fn eval_and_validate_offer_only_the_formats_they_print() {
    let repo = TestRepo::new();
    for command in ["eval", "validate"] {
        let help = repo.run(&[command, "--help"]);
        assert!(
            help.stdout.contains("text, json]") && !help.stdout.contains("markdown"),
            "{command}: {}",
            help.stdout
        );
        let run = repo.run(&[command, "--format", "markdown"]);
        assert_eq!(run.code, 2, "{command}: {}", run.stderr);
        common::assert_contains(&run.stderr, "invalid value 'markdown'");
    }
}

#[test]
fn failures_are_listed_in_natural_order() {
    let server = Server::start(|_| Reply::openai("no"));
    let cases: Vec<Value> = [10, 2, 1, 33]
        .iter()
        .map(|n| {
            case(
                &format!("case-{n}"),
                "q",
                json!([{"type": "contains", "value": "yes"}]),
            )
        })
        .collect();
    let repo = repo(&openai(&server, ""), &cases, "");
    let run = eval(&repo, &["--color", "never"]);
    let order: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("failed "))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        order,
        ["case-1", "case-2", "case-10", "case-33"],
        "{}",
        run.stdout
    );
}

#[test]
fn eval_reads_the_working_tree_also_before_the_first_commit() {
    let server = Server::start(|request| {
        let answer = if request.prompt().contains("Politely") {
            "yes"
        } else {
            "no"
        };
        Reply::openai(answer)
    });
    let repo = TestRepo::new();
    repo.write(
        "promptgate.toml",
        format!("[provider.main]\n{}\n\n[[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 1.0\n", openai(&server, "")),
    )
    .write("prompts/answer.md", "Answer: {{ question }}\n")
    .write(
        "evals/support.jsonl",
        format!("{}\n", case("c1", "q", json!([{"type": "contains", "value": "yes"}]))),
    );
    // No commit yet: the files on disk are evaluated.
    let (code, json) = eval_json(&repo, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["rev"], "working tree");
    assert_eq!(case_by_id(&json, "c1")["status"], "fail");
    repo.commit("first");
    // An uncommitted edit is what runs, with no commit in between; --rev reads the commit.
    repo.write("prompts/answer.md", "Politely answer: {{ question }}\n");
    let (_, json) = eval_json(&repo, &[]);
    assert_eq!(case_by_id(&json, "c1")["status"], "pass");
    let (_, json) = eval_json(&repo, &["--rev", "HEAD"]);
    assert_eq!(case_by_id(&json, "c1")["status"], "fail");
    assert_eq!(json["rev"].as_str().map(str::len), Some(40));
}
