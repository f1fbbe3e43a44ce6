//! Model-watch, end to end: `promptgate compare` runs one surface's cases on its provider and
//! on a candidate (a local server answering per model), lists the flips by case id and
//! decides the verdict with the gate's statistics; a cached rerun makes no call; `--log`
//! keeps the comparison and `promptgate experiments` lists it. Where answers come from is
//! the default branch's to decide: a branch that points the candidate at another server
//! sends that server nothing.

mod common;
#[path = "common/http.rs"]
mod http;

use common::TestRepo;
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";

/// Answers as the requested model: `gpt-a` fails the hard questions, `gpt-b` the tricky one.
fn server() -> Server {
    Server::start(|request| {
        let model = request.json()["model"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let prompt = request.prompt();
        let wrong = match model.as_str() {
            "gpt-a" => prompt.contains("hard"),
            _ => prompt.contains("tricky"),
        };
        let mut reply = Reply::openai(if wrong { "wrong" } else { "correct" });
        reply.body = reply.body.replace("test-model", &model);
        reply
    })
}

fn config(main: &Server, candidate: &Server) -> String {
    format!(
        "[gate]\nrepeat = 1\n\n\
         [provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-a\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [provider.candidate]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-b\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n",
        main.url, candidate.url
    )
}

/// Ten cases: c0–c7 hard (gpt-a fails them), c8 tricky (gpt-b fails it), c9 plain.
fn repo(main: &Server, candidate: &Server) -> TestRepo {
    let repo = TestRepo::new();
    let cases: String = (0..10)
        .map(|i| {
            let word = match i {
                0..=7 => "hard",
                8 => "tricky",
                _ => "plain",
            };
            format!(
                "{}\n",
                json!({"id": format!("c{i}"), "vars": {"question": format!("{word} question {i}")}, "assert": [{"type": "contains", "value": "correct"}]})
            )
        })
        .collect();
    repo.write("promptgate.toml", config(main, candidate))
        .write("prompts/answer.md", "Q: {{ question }}\n")
        .write("evals/support.jsonl", cases)
        .write(".gitignore", ".promptgate/\n");
    repo.commit("base");
    repo
}

fn run(repo: &TestRepo, args: &[&str]) -> common::Run {
    common::run_with_env(repo.path(), args, &[(KEY_VAR, "sk-test")])
}

/// `compare --surface support --provider PROVIDER` with `extra` arguments.
fn compare(repo: &TestRepo, provider: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["compare", "--surface", "support", "--provider", provider];
    args.extend_from_slice(extra);
    run(repo, &args)
}

fn compare_json(repo: &TestRepo, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let run = compare(repo, "candidate", &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn models_called(server: &Server) -> Vec<String> {
    let mut models: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["model"].as_str().unwrap_or_default().to_string())
        .collect();
    models.sort();
    models.dedup();
    models
}

#[test]
fn both_models_answer_and_the_flips_decide_the_verdict() {
    let server = server();
    let repo = repo(&server, &server);
    let out = compare_json(&repo, &[]);
    assert_eq!(models_called(&server), ["gpt-a", "gpt-b"]);
    assert_eq!(out["surface"], "support");
    assert_eq!(out["rev"], repo.git(&["rev-parse", "HEAD"]).as_str());
    assert_eq!(out["current"]["provider"], "main");
    assert_eq!(out["current"]["model"], "gpt-a");
    assert_eq!(out["candidate"]["provider"], "candidate");
    assert_eq!(out["candidate"]["model"], "gpt-b");
    assert_eq!(out["current"]["pass_rate"], 0.2);
    assert_eq!(out["candidate"]["pass_rate"], 0.9);
    assert!(out["candidate"]["ci_low"].as_f64() < Some(0.9));
    assert!(out["candidate"]["latency_ms"]["p95"].is_u64());
    assert_eq!(out["regressions"], json!(["c8"]));
    assert_eq!(
        out["fixes"],
        json!(["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"])
    );
    // b = 1, c = 8: p = 2 · P[X ≤ 1], X ~ Bin(9, ½) = 20/512.
    let p = out["mcnemar_p"].as_f64().expect("p");
    assert!((p - 20.0 / 512.0).abs() < 1e-9, "{p}");
    assert_eq!(out["verdict"], "better");
    let keys: Vec<&String> = out.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "candidate",
            "current",
            "fixes",
            "mcnemar_p",
            "regressions",
            "rev",
            "surface",
            "verdict"
        ]
    );

    // The other way round, the candidate is worse.
    let swapped = config(&server, &server)
        .replace("model = \"gpt-a\"", "model = \"tmp\"")
        .replace("model = \"gpt-b\"", "model = \"gpt-a\"")
        .replace("model = \"tmp\"", "model = \"gpt-b\"");
    repo.write("promptgate.toml", swapped);
    repo.commit("swap");
    let out = compare_json(&repo, &[]);
    assert_eq!(out["verdict"], "worse");
    assert_eq!(out["fixes"], json!(["c8"]));
}

#[test]
fn a_cached_rerun_makes_no_call() {
    let server = server();
    let repo = repo(&server, &server);
    let first = compare_json(&repo, &[]);
    let calls = server.requests().len();
    assert_eq!(calls, 20, "ten cases, one trial, two sides");
    let again = compare_json(&repo, &[]);
    assert_eq!(
        server.requests().len(),
        calls,
        "a cached compare made calls"
    );
    assert_eq!(first["fixes"], again["fixes"]);
}

#[test]
fn a_logged_comparison_shows_in_experiments() {
    let server = server();
    let repo = repo(&server, &server);
    compare_json(&repo, &["--log", "gpt-b answers the hard questions"]);
    let note = repo.git(&["notes", "--ref=promptgate", "show", "HEAD"]);
    let entry: Value = serde_json::from_str(note.trim()).expect("entry");
    assert_eq!(entry["kind"], "experiment");
    assert_eq!(entry["model"], "gpt-b");
    assert_eq!(entry["failed"], json!(["c8"]));
    assert_eq!(entry["hypothesis"], "gpt-b answers the hard questions");

    let listed = run(&repo, &["experiments", "--format", "json", "--no-fetch"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed: Value = serde_json::from_str(&listed.stdout).expect("json");
    let experiments = listed["experiments"].as_array().expect("experiments");
    assert_eq!(experiments.len(), 1);
    let e = &experiments[0];
    assert_eq!(e["surface"], "support");
    assert_eq!(e["hypothesis"], "gpt-b answers the hard questions");
    assert_eq!(e["current"]["model"], "gpt-a");
    assert_eq!(e["candidate"]["model"], "gpt-b");
    assert_eq!(e["verdict"], "better");
    assert_eq!(e["regressions"], json!(["c8"]));
    assert_eq!(e["commit"], repo.git(&["rev-parse", "HEAD"]).as_str());

    let text = run(&repo, &["experiments", "--no-fetch"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    common::assert_contains(
        &text.stdout,
        "support \"gpt-b answers the hard questions\": gpt-a → gpt-b, 20.0%",
    );
    common::assert_contains(&text.stdout, "better");
}

#[test]
fn an_incomplete_comparison_is_not_logged() {
    let good = server();
    let broken =
        Server::start(|_| Reply::json(400, json!({"error": {"message": "no such model"}})));
    let repo = repo(&good, &broken);
    let out = compare(&repo, "candidate", &["--log", "try it"]);
    assert_eq!(out.code, 4, "{}{}", out.stdout, out.stderr);
    common::assert_contains(&out.stderr, "the experiment was not logged");
    assert!(!common::git_succeeds(
        repo.path(),
        &["notes", "--ref=promptgate", "show", "HEAD"]
    ));
}

#[test]
fn a_branch_cannot_point_the_candidate_at_its_own_server() {
    let server = server();
    let attacker = server_counting();
    let repo = repo(&server, &server);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("promptgate.toml", config(&server, &attacker));
    repo.commit("candidate: a faster server");
    let out = compare_json(&repo, &[]);
    assert!(
        attacker.requests().is_empty(),
        "the branch's server was called"
    );
    assert_eq!(models_called(&server), ["gpt-a", "gpt-b"]);
    assert_eq!(out["verdict"], "better");
    let again = compare(&repo, "candidate", &[]);
    common::assert_contains(
        &again.stderr,
        "provider `candidate`: the change sets `base_url`",
    );
    assert!(attacker.requests().is_empty());

    // A candidate only the branch declares is refused, and no command of its runs.
    let marker = repo.path().join("ran");
    let exec = format!(
        "\n[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"touch {}\"]\n",
        marker.display()
    );
    repo.write(
        "promptgate.toml",
        config(&server, &attacker) + exec.as_str(),
    );
    repo.commit("a local candidate");
    let refused = compare(&repo, "local", &[]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    common::assert_contains(&refused.stderr, "Declared providers: candidate, main");
    assert!(!marker.exists(), "the branch's command ran");
}

/// A server that answers everything (and records what it got).
fn server_counting() -> Server {
    Server::start(|_| Reply::openai("correct"))
}

#[test]
fn an_unknown_candidate_is_a_usage_error() {
    let server = server();
    let repo = repo(&server, &server);
    let out = compare(&repo, "nope", &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    common::assert_contains(&out.stderr, "provider `nope` is not declared");
    common::assert_contains(&out.stderr, "candidate, main");
    assert!(server.requests().is_empty());
}

#[test]
fn compare_markdown_snapshot() {
    let server = server();
    let repo = repo(&server, &server);
    let out = compare(&repo, "candidate", &["--format", "markdown"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[sha]");
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[short]");
    settings.add_filter(r"\d+ / \d+ ms", "[p50] / [p95] ms");
    settings.bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn a_branch_cannot_reroute_the_calls_with_request_parameters() {
    let server = server();
    let repo = repo(&server, &server);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "prompts/answer.md",
        "---\napi_base: http://127.0.0.1:9/v1\n---\nQ: {{ question }}\n",
    );
    repo.commit("reroute");
    let out = compare(&repo, "candidate", &[]);
    assert_eq!(out.code, 5, "{}{}", out.stdout, out.stderr);
    common::assert_contains(&out.stderr, "`api_base`");
    assert!(server.requests().is_empty());
}

#[test]
fn experiments_fetches_the_ledger_from_origin() {
    let server = server();
    let origin = repo(&server, &server);
    compare_json(&origin, &["--log", "logged upstream"]);
    let parent = tempfile::tempdir().expect("tempdir");
    let origin_path = origin.path().to_string_lossy().into_owned();
    common::git_in(parent.path(), &["clone", "-q", &origin_path, "clone"]);
    let clone = parent.path().join("clone");
    let local = common::run_in(&clone, &["experiments", "--no-fetch"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    common::assert_contains(&local.stdout, "no experiments in the ledger yet");
    let fetched = common::run_in(&clone, &["experiments", "--format", "json"]);
    assert_eq!(fetched.code, 0, "{}", fetched.stderr);
    let json: Value = serde_json::from_str(&fetched.stdout).expect("json");
    assert_eq!(json["experiments"][0]["hypothesis"], "logged upstream");
}
