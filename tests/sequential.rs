//! Verdicts under noise, end to end: `promptgate check` against local OpenAI-compatible
//! servers that answer at random (seeded: the n-th request with a given body always gets
//! the same answer, so runs, shards and reruns are reproducible whatever the order of the
//! calls) or deterministically. Sequential sampling runs rounds only while a surface is
//! inconclusive, spends nothing extra on a clear-cut change, at most one extra round on a
//! deterministic provider, and sharded runs give one run's verdict and rounds.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::HashMap;
use std::sync::Mutex;

use common::{assert_contains, TestRepo};
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";
const CASES: usize = 200;

/// A server answering "correct" with a probability the prompt sets (`PASS: 0.85`), drawn
/// from a hash of the request body and how often that body came before.
fn noisy() -> Server {
    let seen: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    Server::start(move |request| {
        let prompt = request.prompt();
        let p: f64 = prompt
            .lines()
            .find_map(|l| l.strip_prefix("PASS: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1.0);
        let occurrence = {
            let mut seen = http::lock(&seen);
            let n = seen.entry(request.body.clone()).or_default();
            *n += 1;
            *n
        };
        let draw = unit(&format!("{}#{occurrence}", request.body));
        Reply::openai(if draw < p { "correct" } else { "wrong" })
    })
}

/// A deterministic server: "wrong" exactly for the questions the prompt lists as broken.
fn deterministic() -> Server {
    Server::start(|request| {
        let prompt = request.prompt();
        let broken = prompt
            .lines()
            .find_map(|l| l.strip_prefix("BROKEN: "))
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .any(|id| prompt.contains(&format!("question {id}.")));
        Reply::openai(if broken { "wrong" } else { "correct" })
    })
}

/// A number in [0, 1) from a string (FNV-1a, then splitmix64 to spread it).
fn unit(text: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = hash.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn config(server: &Server) -> String {
    format!(
        "[gate]\nrepeat = 1\nmax_repeat = 3\n\n\
         [provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\nmax_drop = 0.05\n",
        server.url
    )
}

fn cases() -> String {
    (0..CASES)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": format!("c{i:03}"), "vars": {"question": format!("question {i}.")}, "assert": [{"type": "contains", "value": "correct"}]})
            )
        })
        .collect()
}

/// `main` holds `base_prompt`; the checked-out branch `feature` changes it to `head_prompt`.
fn repo(server: &Server, base_prompt: &str, head_prompt: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(server))
        .write("prompts/answer.md", base_prompt)
        .write("evals/support.jsonl", cases())
        .write(".gitignore", ".promptgate/\nshard*/\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/answer.md", head_prompt);
    repo.commit("edit the prompt");
    repo
}

fn check(repo: &TestRepo, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--base", "main", "--format", "json"];
    all.extend_from_slice(args);
    let run = common::run_with_env(repo.path(), &all, &[(KEY_VAR, "sk-test")]);
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, json)
}

fn surface(report: &Value) -> &Value {
    &report["surfaces"][0]
}

fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    surface(report)["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["rule"] == name))
        .unwrap_or_else(|| panic!("no rule {name}: {report:#}"))
}

#[test]
fn a_clear_cut_change_costs_one_round() {
    let server = deterministic();
    // 30 of 200 cases break: far beyond `max_drop`, and every trial says so.
    let broken: Vec<String> = (0..30).map(|i| (i * 3).to_string()).collect();
    let repo = repo(
        &server,
        "Q: {{ question }}\n",
        &format!("BROKEN: {}\nQ: {{{{ question }}}}\n", broken.join(",")),
    );
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report:#}"
    );
    assert_eq!(surface(&report)["rounds"], 1, "{report:#}");
    assert_eq!(rule(&report, "max_drop")["decided"]["by"], "data");
    assert_eq!(server.requests().len(), 2 * CASES);
}

#[test]
fn no_flips_at_all_costs_one_round() {
    let server = deterministic();
    let repo = repo(&server, "Q: {{ question }}\n", "Question: {{ question }}\n");
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("pass")),
        "{report:#}"
    );
    assert_eq!(surface(&report)["rounds"], 1);
    assert_eq!(server.requests().len(), 2 * CASES);
}

#[test]
fn a_deterministic_provider_takes_at_most_one_extra_round() {
    let server = deterministic();
    // The base fails 4 cases, the head 12 others: a 4-point drop, close to `max_drop = 0.05`,
    // and no significant regression (12 against 4). One trial cannot tell that from noise;
    // the second shows every trial repeating, so the drop is exact.
    let list = |ids: std::ops::Range<usize>| {
        ids.map(|i| (i * 11).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let repo = repo(
        &server,
        &format!("BROKEN: {}\nQ: {{{{ question }}}}\n", list(0..4)),
        &format!("BROKEN: {}\nQ: {{{{ question }}}}\n", list(4..16)),
    );
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("pass")),
        "{report:#}"
    );
    let surface = surface(&report);
    assert_eq!(
        (surface["rounds"].as_u64(), surface["max_rounds"].as_u64()),
        (Some(2), Some(3))
    );
    assert!(
        (surface["drop"]["value"].as_f64().unwrap_or(0.0) - 0.04).abs() < 1e-12,
        "{surface:#}"
    );
    assert_eq!(rule(&report, "max_drop")["decided"]["by"], "data");
    assert_eq!(server.requests().len(), 2 * 2 * CASES);
    // The second round's trials are new answers, and the cache keeps both rounds.
    let (again, rerun) = check(&repo, &[]);
    assert_eq!(again, 0);
    assert_eq!(rerun["surfaces"][0]["rounds"], 2);
    assert_eq!(
        server.requests().len(),
        2 * 2 * CASES,
        "a cached rerun made calls"
    );
}

#[test]
fn a_noisy_no_op_edit_is_settled_within_the_rounds_and_said_to_be_noise() {
    let server = noisy();
    let repo = repo(
        &server,
        "PASS: 0.85\nQ: {{ question }}\n",
        "PASS: 0.85\nQuestion: {{ question }}\n",
    );
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("pass")),
        "{report:#}"
    );
    let surface = surface(&report);
    let rounds = surface["rounds"].as_u64().unwrap_or(0);
    assert!((1..=3).contains(&rounds), "{surface:#}");
    // Each round asks both sides once per case.
    assert_eq!(server.requests().len() as u64, rounds * 2 * CASES as u64);
    assert_eq!(surface["trials"].as_u64(), Some(rounds * 2 * CASES as u64));
    let drop = &surface["drop"];
    assert!(
        drop["low"].as_f64() < Some(0.0) && drop["high"].as_f64() > Some(0.0),
        "{drop}"
    );
    assert_contains(
        surface["power"].as_str().unwrap_or_default(),
        "with 200 cases this suite can see drops of",
    );
    let run = common::run_with_env(
        repo.path(),
        &["check", "--base", "main", "--format", "markdown"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_contains(&run.stdout, "within noise");
}

#[test]
fn a_noisy_ten_point_drop_is_blocked() {
    let server = noisy();
    let repo = repo(
        &server,
        "PASS: 0.85\nQ: {{ question }}\n",
        "PASS: 0.75\nQ: {{ question }}\n",
    );
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report:#}"
    );
    assert!(!rule(&report, "max_drop")["ok"].as_bool().unwrap_or(true));
}

#[test]
fn shards_give_the_verdict_and_the_rounds_of_one_run() {
    let prompts = (
        "PASS: 0.85\nQ: {{ question }}\n",
        "PASS: 0.82\nQ: {{ question }}\n",
    );
    let single_server = noisy();
    let single = repo(&single_server, prompts.0, prompts.1);
    let (code, one_run) = check(&single, &["--no-cache"]);
    // A 3-point drop under noise: one run needs more than one round, so the merge must
    // replay the looks to stop where it stopped.
    assert!(
        surface(&one_run)["rounds"].as_u64() > Some(1),
        "{one_run:#}"
    );
    let sharded_server = noisy();
    let sharded = repo(&sharded_server, prompts.0, prompts.1);
    for k in 1..=2 {
        let dir = sharded.path().join(format!("shard{k}"));
        let run = common::run_with_env(
            sharded.path(),
            &[
                "check",
                "--base",
                "main",
                "--no-cache",
                "--shard",
                &format!("{k}/2"),
                "--out",
                &dir.display().to_string(),
            ],
            &[(KEY_VAR, "sk-test")],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let run = sharded.run(&["merge", "--format", "json", "shard1", "shard2"]);
    let merged: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    assert_eq!((run.code, &merged["verdict"]), (code, &one_run["verdict"]));
    for field in ["rounds", "drop", "rules", "base", "head"] {
        assert_eq!(surface(&merged)[field], surface(&one_run)[field], "{field}");
    }
}
