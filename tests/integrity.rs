//! Gate integrity: the gate compares what really changed. Real repositories and a local
//! OpenAI-compatible server that answers differently per model and per temperature: a model
//! swap and a parameter change are measured on both sides (both models are called), eval
//! cases are part of their surface (removed and weakened assertions loosen the gate), the
//! head is also graded against the suite as it stood on the base, and governance changes
//! need exec approval.

mod common;
#[path = "common/http.rs"]
mod http;

use common::{assert_contains, TestRepo};
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";

/// The production model answers every case right; the cheaper model, or any model run hot
/// (temperature above 0.5), gets the fragile questions wrong. The answer quotes the refund
/// window the prompt states, and leaks an SSN when the prompt asks for account details.
fn server() -> Server {
    Server::start(|request| {
        let body = request.json();
        let prompt = request.prompt();
        let cheap = body["model"] == "gpt-4.1-nano";
        let hot = body["temperature"].as_f64().unwrap_or(0.0) > 0.5;
        let window = if prompt.contains("14 days") {
            "14"
        } else {
            "30"
        };
        let text = if (cheap || hot) && prompt.contains("fragile") {
            "wrong".to_string()
        } else if prompt.contains("account details") {
            format!("Refunds within {window} days. Your SSN is 123-45-6789. Contact us.")
        } else {
            format!("Refunds within {window} days. Contact us.")
        };
        Reply::openai(&text)
    })
}

const PROMPT: &str = "Policy: refunds within 30 days.\nQ: {{ question }}\n";

fn config(server: &Server, tier: &str) -> String {
    format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\nparameters = {{ temperature = 0.0 }}\n\n\
         [price.\"gpt-4o-mini\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n\
         [price.\"gpt-4.1-nano\"]\ninput_per_mtok = 0.1\noutput_per_mtok = 0.2\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"{tier}\"\nmin_pass_rate = 0.9\nmax_drop = 0.05\n\n\
         [tier.council]\napprovers = [\"alice\"]\nmin_approvals = 1\n\n\
         [tier.exec]\napprovers = [\"acme/execs\"]\nmin_approvals = 1\n",
        server.url
    )
}

/// Ten cases; 2, 5 and 7 are fragile. Each expects the answer to mention "30 days" and
/// to carry no SSN.
fn cases(window: &str, pii_check: bool) -> String {
    (0..10)
        .map(|i| {
            let word = if [2, 5, 7].contains(&i) { "fragile" } else { "steady" };
            let mut assert = vec![json!({"type": "contains", "value": format!("{window} days")})];
            if pii_check {
                assert.push(json!({"type": "not-icontains", "value": "SSN"}));
            }
            format!(
                "{}\n",
                json!({"id": format!("c{i:02}"), "vars": {"question": format!("{word} question {i}")}, "assert": assert})
            )
        })
        .collect()
}

/// `main` holds the surface; `feature` gets whatever `edit` writes.
fn repo(server: &Server, tier: &str, edit: impl FnOnce(&TestRepo)) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(server, tier))
        .write("prompts/answer.md", PROMPT)
        .write("evals/support.jsonl", cases("30", true));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    edit(&repo);
    repo.commit("the change");
    repo
}

fn edit_config(repo: &TestRepo, from: &str, to: &str) {
    let path = repo.path().join("promptgate.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.contains(from), "{from:?} not in the config");
    repo.write("promptgate.toml", text.replacen(from, to, 1));
}

fn check(repo: &TestRepo, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--base", "main", "--format", "json"];
    all.extend_from_slice(args);
    let run = common::run_with_env(repo.path(), &all, &[(KEY_VAR, "sk-test")]);
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, json)
}

/// Every loosening the suite edit carries, over all cases.
fn surface_loosenings(report: &Value) -> Vec<Value> {
    report["surfaces"][0]["suite_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("loosenings").cloned())
        .collect()
}

fn notes(report: &Value) -> String {
    report["notes"].to_string()
}

fn seen(server: &Server, key: &str) -> Vec<Value> {
    let mut values: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.json()[key].clone())
        .collect();
    values.sort_by_key(Value::to_string);
    values.dedup();
    values
}

#[test]
fn a_model_swap_is_measured_on_both_sides_priced_per_side_and_cached() {
    let server = server();
    let repo = repo(&server, "self", |repo| {
        edit_config(repo, "model = \"gpt-4o-mini\"", "model = \"gpt-4.1-nano\"");
    });
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report:#}"
    );
    let surface = &report["surfaces"][0];
    assert_eq!(
        surface["model"],
        json!({"base": "gpt-4o-mini", "head": "gpt-4.1-nano"})
    );
    assert_eq!(surface["regressions"].as_array().map(Vec::len), Some(3));
    assert_eq!(surface["head"]["pass_rate"], 0.7);
    assert_contains(&notes(&report), "model: gpt-4o-mini → gpt-4.1-nano");
    assert_eq!(
        seen(&server, "model"),
        vec![json!("gpt-4.1-nano"), json!("gpt-4o-mini")]
    );
    // Three flips in ten cases cannot be told from noise after one trial; the second round
    // repeats every answer (the server is deterministic), so the drop is exact and no third
    // round runs.
    assert_eq!(surface["rounds"], 2, "{surface:#}");
    // 10 calls a side per round at 10 + 5 tokens: $1/$2 per Mtok on base, $0.1/$0.2 on head.
    let cost = &surface["cost"];
    let close = |v: &Value, expected: f64| (v.as_f64().unwrap_or(-1.0) - expected).abs() < 1e-12;
    assert!(
        close(
            &cost["base_usd"],
            2.0 * 10.0 * (10.0 * 1.0 + 5.0 * 2.0) / 1e6
        ),
        "{cost}"
    );
    assert!(
        close(
            &cost["head_usd"],
            2.0 * 10.0 * (10.0 * 0.1 + 5.0 * 0.2) / 1e6
        ),
        "{cost}"
    );

    // A rerun comes from the cache: the keys carry model and parameters.
    let calls = server.requests().len();
    let (again, rerun) = check(&repo, &[]);
    assert_eq!(again, 1);
    assert_eq!(rerun["surfaces"][0]["regressions"], surface["regressions"]);
    assert_eq!(server.requests().len(), calls, "a cached rerun made calls");
}

#[test]
fn a_temperature_change_is_measured_on_both_sides() {
    let server = server();
    let repo = repo(&server, "self", |repo| {
        edit_config(repo, "temperature = 0.0", "temperature = 0.9");
    });
    let (code, report) = check(&repo, &[]);
    assert_eq!(code, 1, "{report:#}");
    let surface = &report["surfaces"][0];
    assert_eq!(surface["parameters"]["base"]["temperature"], 0.0);
    assert_eq!(surface["parameters"]["head"]["temperature"], 0.9);
    assert!(
        (surface["delta"].as_f64().unwrap_or(0.0) + 0.3).abs() < 1e-9,
        "{surface:#}"
    );
    assert_contains(
        &notes(&report),
        "parameters: {\\\"temperature\\\":0.0} → {\\\"temperature\\\":0.9}",
    );
    assert_eq!(seen(&server, "temperature"), vec![json!(0.0), json!(0.9)]);
}

#[test]
fn removing_the_assertion_the_prompt_fails_is_caught_as_loosening() {
    let server = server();
    let repo = TestRepo::new();
    // The base's prompt leaks an SSN on every case: its PII check fails everywhere.
    repo.write("promptgate.toml", config(&server, "self"))
        .write(
            "prompts/answer.md",
            "Policy: refunds within 30 days. Quote account details.\nQ: {{ question }}\n",
        )
        .write("evals/support.jsonl", cases("30", true));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("evals/support.jsonl", cases("30", false));
    repo.commit("drop the PII check");
    let (code, report) = check(&repo, &[]);
    assert_eq!(report["tier"], "exec", "{report:#}");
    assert_eq!(
        (code, report["verdict"].as_str()),
        (3, Some("needs-signoff")),
        "{report:#}"
    );
    let surface = &report["surfaces"][0];
    assert_eq!(surface["changed_files"], json!(["evals/support.jsonl"]));
    let changes = surface["suite_changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(changes.len(), 10, "{surface:#}");
    assert_eq!(changes[0]["change"], "edited");
    assert_contains(
        &changes[0]["loosenings"].to_string(),
        "`not-icontains` \\\"SSN\\\" is removed",
    );
    assert_contains(
        &notes(&report),
        "tier raised to exec: surface `support`: case `c00`: assertion `not-icontains`",
    );
    // Graded against the suite as it stood, the head still fails the PII check.
    let against = &surface["against_base_suite"];
    assert_eq!(against["head"]["pass_rate"], 0.0, "{surface:#}");
    assert_eq!(surface["head"]["pass_rate"], 1.0);
}

#[test]
fn rewriting_expectations_with_the_prompt_shows_the_regressions_against_the_base_suite() {
    let server = server();
    let repo = repo(&server, "council", |repo| {
        repo.write("prompts/answer.md", PROMPT.replace("30 days", "14 days"))
            .write("evals/support.jsonl", cases("14", true));
    });
    let (code, report) = check(&repo, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (3, Some("needs-signoff")),
        "{report:#}"
    );
    // No edit loosens a case, but the base's suite, which the new expectations replace,
    // fails the head: the people who own the bar decide (exec).
    assert_eq!(report["tier"], "exec", "{report:#}");
    assert_contains(
        &notes(&report),
        "against the suite as it stood on base, rule `min_pass_rate` failed",
    );
    assert!(surface_loosenings(&report).is_empty(), "{report:#}");
    let surface = &report["surfaces"][0];
    assert_eq!(surface["regressions"], json!([]));
    let against = &surface["against_base_suite"];
    assert_eq!(
        against["regressions"].as_array().map(Vec::len),
        Some(10),
        "{surface:#}"
    );
    assert_eq!(against["base"]["pass_rate"], 1.0);
    assert_eq!(against["head"]["pass_rate"], 0.0);
    let edited: Vec<&str> = surface["suite_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["change"] == "edited" && c["loosenings"].is_null())
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(edited.len(), 10);
    // Identical requests are answered once: 10 base + 10 head calls, none for the
    // comparison against the base's suite.
    assert_eq!(server.requests().len(), 20);

    let run = common::run_with_env(
        repo.path(),
        &["check", "--base", "main", "--format", "markdown"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_contains(
        &run.stdout,
        "against the suite as it stood on base: 10 regression(s)",
    );
    assert_contains(&run.stdout, "case `c00` edited");

    let diff = repo.diff_json(&["--base", "main"]);
    let change = common::change(&diff, "evals/support.jsonl");
    assert_eq!(change["via"], "cases");
    assert_eq!(change["surfaces"], json!(["support"]));
    assert_eq!(change["cases"].as_array().map(Vec::len), Some(10));
    assert_contains(
        &change["cases"][0]["details"].to_string(),
        "\\\"30 days\\\" → `contains` \\\"14 days\\\"",
    );
    let text = repo.run(&["diff", "--base", "main"]);
    assert_contains(&text.stdout, "case `c03` edited");
}

#[test]
fn weakened_thresholds_and_removed_cases_are_exec() {
    let server = server();
    let added = cases("30", true).replace(
        "{\"type\":\"not-icontains\",\"value\":\"SSN\"}",
        "{\"type\":\"not-icontains\",\"value\":\"SSN\"},{\"type\":\"icontains\",\"value\":\"refund\"}",
    );
    for (label, edit, tier) in [
        (
            "shorter contains",
            cases("30", true).replace("\"30 days\"", "\"days\""),
            "exec",
        ),
        (
            "removed case",
            cases("30", true)
                .lines()
                .skip(1)
                .map(|l| format!("{l}\n"))
                .collect(),
            "exec",
        ),
        ("added assertion", added, "self"),
    ] {
        let repo = repo(&server, "self", |repo| {
            repo.write("evals/support.jsonl", &edit);
        });
        let (code, report) = check(&repo, &[]);
        assert_eq!(report["tier"], tier, "{label}: {report:#}");
        assert_eq!(
            code,
            if tier == "exec" { 3 } else { 0 },
            "{label}: {report:#}"
        );
    }
    // A latency limit raised is weaker; lowered is stricter.
    let with_latency = |ms: u32| {
        cases("30", true).replace(
            "{\"type\":\"not-icontains\",\"value\":\"SSN\"}",
            &format!("{{\"type\":\"not-icontains\",\"value\":\"SSN\"}},{{\"type\":\"latency\",\"threshold\":{ms}}}"),
        )
    };
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(&server, "self"))
        .write("prompts/answer.md", PROMPT)
        .write("evals/support.jsonl", with_latency(5000));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("evals/support.jsonl", with_latency(60000));
    repo.commit("allow slower answers");
    let (code, report) = check(&repo, &[]);
    assert_eq!(report["tier"], "exec", "{report:#}");
    assert_ne!(code, 0);
    assert_contains(
        &notes(&report),
        "`latency` threshold moves from 5000 to 60000",
    );
}

#[test]
fn governance_changes_are_exec_whichever_way_they_point() {
    let server = server();
    for (label, from, to) in [
        (
            "approver added",
            "approvers = [\"alice\"]",
            "approvers = [\"alice\", \"mallory\"]",
        ),
        (
            "artifacts required",
            "min_approvals = 1\n\n",
            "min_approvals = 1\nartifacts = [\"impact\"]\n\n",
        ),
        (
            "drill relaxed",
            "[tier.council]",
            "[drill]\nevery_days = 365\n\n[tier.council]",
        ),
        (
            "policy added",
            "[tier.council]",
            "[policy]\ncross_cutting_surfaces = 9\n\n[tier.council]",
        ),
    ] {
        let repo = repo(&server, "self", |repo| edit_config(repo, from, to));
        let (code, report) = check(&repo, &[]);
        assert_eq!(report["tier"], "exec", "{label}: {report:#}");
        assert_eq!(code, 3, "{label}: {report:#}");
        assert_contains(&notes(&report), "tier raised to exec: [");
    }
}

#[test]
fn the_verdict_comment_shows_models_case_changes_and_the_base_suite() {
    // A local command plays the model: it quotes the refund window its prompt states.
    let repo = TestRepo::new();
    let case = |id: &str, window: &str| {
        format!(
            "{}\n",
            json!({"id": id, "vars": {"question": format!("refund? ({id})")}, "assert": [{"type": "contains", "value": format!("{window} days")}, {"type": "not-icontains", "value": "sorry"}]})
        )
    };
    repo.write(
        "promptgate.toml",
        "[provider.local]\nkind = \"exec\"\nmodel = \"local-v1\"\ncommand = [\"sh\", \"-c\", \"if grep -q '14 days'; then echo 'Within 14 days.'; else echo 'Within 30 days.'; fi\"]\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"council\"\nmin_pass_rate = 0.5\nmax_drop = 0.5\n\n\
         [tier.council]\napprovers = [\"alice\"]\nmin_approvals = 1\n",
    )
    .write("prompts/answer.md", PROMPT)
    .write("evals/support.jsonl", ["a", "b", "c"].map(|id| case(id, "30")).concat());
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let text = std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap_or_default();
    repo.write("promptgate.toml", text.replace("local-v1", "local-v2"))
        .write("prompts/answer.md", PROMPT.replace("30 days", "14 days"))
        .write(
            "evals/support.jsonl",
            format!(
                "{}{}{}",
                case("a", "14"),
                case("b", "14").replace(",{\"type\":\"not-icontains\",\"value\":\"sorry\"}", ""),
                case("d", "14")
            ),
        );
    repo.commit("14-day refunds");
    let run = common::run_in(
        repo.path(),
        &["check", "--base", "main", "--format", "markdown"],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[sha12]");
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[sha7]");
    settings.bind(|| insta::assert_snapshot!(run.stdout));
}
