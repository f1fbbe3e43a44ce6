//! The red-team lab shared by the attack tables: an honest base (a surface whose cases
//! expect "30 days"), a head that moves the prompt to "14 days" (normally blocked), a local
//! OpenAI-compatible server that can be told to lie, and `gate` to run `check` on the pair.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common::{self, TestRepo};
use crate::http::{Reply, Server};
use serde_json::{json, Value};

/// When set, the model always says 30 days (to fabricate evidence).
pub type Lie = Arc<AtomicBool>;

pub const KEY_VAR: &str = "PG_TEST_KEY";
pub const KEY: &str = "sk-test-7d1f0c9a2b";

/// Answers with the refund window its prompt states. Grading requests (`<rubric>`) are
/// judged strictly ("30 days" must be in the output) by `gpt-4o` only; any other model
/// waves everything through.
pub fn honest(lie: Lie) -> Server {
    Server::start(move |request| {
        let prompt = request.prompt();
        // A grading request carries the rubric and the output in its user message (the
        // first is the system prompt): the output is judged.
        let body = request.json();
        let user = body["messages"][1]["content"].as_str().unwrap_or_default();
        if let Some((_, output)) = user.split_once("<output>") {
            let strict = body["model"] == "gpt-4o";
            let ok = !strict || output.contains("30 days");
            return Reply::openai(
                &json!({"pass": ok, "score": if ok {1} else {0}, "reason": "graded"}).to_string(),
            );
        }
        let window = if prompt.contains("14 days") && !lie.load(Ordering::SeqCst) {
            "14"
        } else {
            "30"
        };
        Reply::openai(&format!("Refunds within {window} days."))
    })
}

pub const PROMPT: &str = "Policy: refunds within 30 days.\nQ: {{ question }}\n";

pub fn config(server: &Server, extra_surface: &str, extra: &str) -> String {
    format!(
        "[gate]\nmax_cost_usd = 5.0\n{extra}\n\
         [provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [price.\"gpt-4o-mini\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\nentry = \"prompts/answer.md\"\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.9\nmax_drop = 0.05\n{extra_surface}\n\
         [tier.exec]\napprovers = [\"acme/execs\"]\nmin_approvals = 1\n",
        server.url
    )
}

pub fn case(id: &str, assertion: Value) -> String {
    format!(
        "{}\n",
        json!({"id": id, "vars": {"question": format!("refund? {id}")}, "assert": [assertion]})
    )
}

pub fn cases(assertion: Value) -> String {
    (0..6)
        .map(|i| case(&format!("c{i}"), assertion.clone()))
        .collect()
}

/// `main` as `base` writes it, then a `feature` branch where `head` edits it (the prompt
/// already moved to 14 days unless `head` rewrites it) and commits.
pub fn gate(
    base: impl FnOnce(&TestRepo, &Server),
    head: impl FnOnce(&TestRepo, &Lie),
) -> (Value, i32, Server) {
    gate_with(base, head, &[])
}

pub fn gate_with(
    base: impl FnOnce(&TestRepo, &Server),
    head: impl FnOnce(&TestRepo, &Lie),
    extra: &[&str],
) -> (Value, i32, Server) {
    let lie = Lie::default();
    let server = honest(lie.clone());
    let repo = TestRepo::new();
    repo.write(".gitignore", ".promptgate/cache\n")
        .write("promptgate.toml", config(&server, "", ""))
        .write("prompts/answer.md", PROMPT)
        .write(
            "evals/support.jsonl",
            cases(json!({"type": "contains", "value": "30 days"})),
        );
    base(&repo, &server);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let prompt = std::fs::read_to_string(repo.path().join("prompts/answer.md")).unwrap_or_default();
    repo.write("prompts/answer.md", prompt.replace("30 days", "14 days"));
    head(&repo, &lie);
    repo.commit("head");
    let run = common::run_with_env(
        repo.path(),
        &[&["check", "--base", "main", "--format", "json"][..], extra].concat(),
        &[(KEY_VAR, KEY), ("GITHUB_TOKEN", "ghs_faketoken123456")],
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "exit {}: not JSON ({e}): {}\n{}",
            run.code, run.stdout, run.stderr
        )
    });
    (report, run.code, server)
}

/// `main` with an ungated `billing/answer.md` next to the lab's surface, `feature` branched
/// there, and then, on `main` only, `surface` (TOML) added to the config and `files` written:
/// a surface the base gated after the branch was cut. Returns the repository on `main`.
pub fn billing_gated_after_the_branch(
    server: &Server,
    surface: &str,
    files: &[(&str, String)],
) -> TestRepo {
    let repo = TestRepo::new();
    repo.write(".gitignore", ".promptgate/cache\n")
        .write("promptgate.toml", config(server, "", ""))
        .write("prompts/answer.md", PROMPT)
        .write("billing/answer.md", PROMPT)
        .write(
            "evals/support.jsonl",
            cases(json!({"type": "contains", "value": "30 days"})),
        );
    repo.commit("an ungated billing prompt");
    repo.git(&["branch", "feature"]);
    repo.write("promptgate.toml", config(server, "", "") + surface);
    for (path, text) in files {
        repo.write(path, text);
    }
    repo.commit("main gates billing");
    repo
}

/// `check --base main --format json` in `repo`: the report and the exit code.
pub fn check_json(repo: &TestRepo) -> (Value, i32) {
    let run = common::run_with_env(
        repo.path(),
        &["check", "--base", "main", "--format", "json"],
        &[(KEY_VAR, KEY)],
    );
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("exit {}: {e}: {}", run.code, run.stderr));
    (report, run.code)
}

pub fn assert_not_pass(report: &Value, code: i32) {
    assert_ne!(code, 0, "{report:#}");
    assert_ne!(report["verdict"], "pass", "{report:#}");
}
