//! `promptgate check` end to end: temp git repositories whose base and head prompts get
//! different answers from a local OpenAI-compatible server, covering pass, each blocking
//! rule, needs-signoff, artifacts, the trust model, added and removed surfaces and the
//! error paths; with a snapshot of the verdict comment.

mod common;
#[path = "common/http.rs"]
mod http;

use common::{assert_contains, TestRepo};
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";

/// A server that answers "correct" unless the prompt says `VERSION: broken` and the
/// question mentions a word in `breaks`, to make chosen cases regress on the head.
fn server() -> Server {
    Server::start(|request| {
        let prompt = request.prompt();
        let broken = prompt.contains("VERSION: broken");
        let breaks = prompt.contains("fragile") || prompt.contains("hard");
        Reply::openai(if broken && breaks {
            "wrong"
        } else {
            "correct answer"
        })
    })
}

struct Setup {
    tier: &'static str,
    thresholds: &'static str,
    extra: &'static str,
}

impl Setup {
    fn with_thresholds(thresholds: &'static str) -> Setup {
        Setup {
            thresholds,
            ..Setup::default()
        }
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            tier: "self",
            thresholds: "min_pass_rate = 0.5\nmax_drop = 0.5\n",
            extra: "",
        }
    }
}

fn config(server: &Server, setup: &Setup) -> String {
    format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"{}\"\n{}\n\
         [tier.council]\napprovers = [\"alice\", \"acme/prompt-council\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n\n\
         [tier.exec]\napprovers = [\"acme/execs\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n{}",
        server.url, setup.tier, setup.thresholds, setup.extra
    )
}

/// `n` cases; those whose index is in `fragile` regress when the prompt is broken.
fn cases(n: usize, fragile: &[usize]) -> String {
    (0..n)
        .map(|i| {
            let word = if fragile.contains(&i) { "fragile" } else { "steady" };
            format!("{}\n", json!({"id": format!("c{i:02}"), "difficulty": i, "vars": {"question": format!("{word} question {i}")}, "assert": [{"type": "contains", "value": "correct", "metric": "accuracy"}]}))
        })
        .collect()
}

/// A repo whose `main` has the good prompt and whose `feature` branch edits it.
fn repo(
    server: &Server,
    setup: &Setup,
    n: usize,
    fragile: &[usize],
    head_prompt: &str,
) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(server, setup))
        .write("prompts/answer.md", "VERSION: good\nQ: {{ question }}\n")
        .write("evals/support.jsonl", cases(n, fragile));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/answer.md", head_prompt);
    repo.commit("edit the prompt");
    repo
}

fn check(repo: &TestRepo, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["check", "--base", "main", "--format", "json"];
    all.extend_from_slice(args);
    let run = common::run_with_env(repo.path(), &all, &[(KEY_VAR, "sk-test")]);
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, json, run.stderr)
}

/// A head prompt that makes the fragile cases fail.
const BROKEN: &str = "VERSION: broken\nQ: {{ question }}\n";

/// A head prompt that still answers every case right.
const REWORDED: &str = "VERSION: good v2\nQ: {{ question }}\n";

#[track_caller]
fn assert_verdict(code: i32, report: &Value, expected_code: i32, verdict: &str) {
    assert_eq!(
        (code, report["verdict"].as_str()),
        (expected_code, Some(verdict)),
        "{report:#}"
    );
}

fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["surfaces"][0]["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["rule"] == name))
        .unwrap_or_else(|| panic!("no rule {name}: {report:#}"))
}

fn reasons(report: &Value) -> String {
    report["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_harmless_change_passes() {
    let server = server();
    let repo = repo(
        &server,
        &Setup::default(),
        10,
        &[1, 2],
        "VERSION: good, reworded\nQ: {{ question }}\n",
    );
    let (code, report, _) = check(&repo, &[]);
    assert_verdict(code, &report, 0, "pass");
    assert_eq!(report["schema_version"], 1);
    let surface = &report["surfaces"][0];
    assert_eq!(surface["base"]["pass_rate"], 1.0);
    assert_eq!(surface["head"]["pass_rate"], 1.0);
    assert_eq!(surface["mcnemar_p"], 1.0);
    assert_eq!(surface["changed_files"], json!(["prompts/answer.md"]));
    assert!(rule(&report, "min_pass_rate")["ok"]
        .as_bool()
        .unwrap_or(false));
}

#[test]
fn min_pass_rate_blocks_with_regressions_listed() {
    let server = server();
    let setup = Setup::with_thresholds("min_pass_rate = 0.9\nmax_drop = 0.5\n");
    let repo = repo(&server, &setup, 10, &[3, 7], BROKEN);
    let (code, report, _) = check(&repo, &[]);
    assert_verdict(code, &report, 1, "blocked");
    assert_eq!(rule(&report, "min_pass_rate")["value"], 0.8);
    assert_eq!(rule(&report, "min_pass_rate")["ok"], false);
    let regressions: Vec<&str> = report["surfaces"][0]["regressions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(regressions, vec!["c03", "c07"]);
    assert_eq!(
        report["surfaces"][0]["regressions"][0]["base_output"],
        "correct answer"
    );
    assert_eq!(
        report["surfaces"][0]["regressions"][0]["head_output"],
        "wrong"
    );
    assert_contains(&reasons(&report), "rule `min_pass_rate` failed");
}

#[test]
fn max_drop_blocks() {
    let server = server();
    let setup = Setup::with_thresholds("min_pass_rate = 0.1\nmax_drop = 0.05\n");
    let repo = repo(&server, &setup, 10, &[4], BROKEN);
    let (code, report, _) = check(&repo, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(rule(&report, "max_drop")["ok"], false);
    assert!((rule(&report, "max_drop")["value"].as_f64().unwrap_or(0.0) - 0.1).abs() < 1e-9);
}

#[test]
fn a_significant_paired_regression_blocks_even_within_rate_thresholds() {
    let server = server();
    let setup = Setup::with_thresholds("min_pass_rate = 0.1\nmax_drop = 0.9\n");
    let fragile: Vec<usize> = (0..8).collect();
    let repo = repo(&server, &setup, 30, &fragile, BROKEN);
    let (code, report, _) = check(&repo, &[]);
    assert_eq!(code, 1, "{report:#}");
    let mcnemar = rule(&report, "mcnemar");
    assert_eq!(mcnemar["ok"], false);
    assert!(
        (mcnemar["value"].as_f64().unwrap_or(1.0) - 0.0078125).abs() < 1e-9,
        "{mcnemar}"
    );
}

#[test]
fn the_tail_rule_and_metric_thresholds_block() {
    let server = server();
    let setup = Setup {
        thresholds: "min_pass_rate = 0.1\nmax_drop = 0.9\ntail_min_pass_rate = 0.5\nmetrics = [{ name = \"accuracy\", min = 0.95 }]\n",
        extra: "[gate]\nsignificance = 0.001\n",
        ..Setup::default()
    };
    // The two hardest cases (highest difficulty) break.
    let repo = repo(&server, &setup, 20, &[18, 19], BROKEN);
    let (code, report, _) = check(&repo, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        (
            rule(&report, "tail_min_pass_rate")["value"].as_f64(),
            rule(&report, "tail_min_pass_rate")["ok"].as_bool()
        ),
        (Some(0.0), Some(false))
    );
    assert_eq!(rule(&report, "metric:accuracy:min")["ok"], false);
    assert_eq!(report["surfaces"][0]["tail"]["cases"], 2);
}

#[test]
fn a_council_change_that_passes_needs_signoff_and_names_the_approvers() {
    let server = server();
    let setup = Setup {
        tier: "council",
        ..Setup::default()
    };
    let repo = repo(&server, &setup, 5, &[], REWORDED);
    repo.write(".promptgate/changes/reword.md", "# Reword\n\n## Expected user impact\nAnswers read more naturally.\n\n## Rollback plan\nRevert this commit; no data migration.\n");
    repo.commit("change record");
    let (code, report, _) = check(&repo, &[]);
    assert_verdict(code, &report, 3, "needs-signoff");
    assert_eq!(report["tier"], "council");
    assert_eq!(report["approvals"]["required"], 1);
    assert_eq!(report["approvals"]["missing"], 1);
    assert!(
        report["artifacts"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|a| a["found"] == true && a["source"] == ".promptgate/changes/reword.md"),
        "{report:#}"
    );
    assert_contains(&reasons(&report), "alice, acme/prompt-council");
}

#[test]
fn missing_or_placeholder_artifacts_block() {
    let server = server();
    let setup = Setup {
        tier: "council",
        ..Setup::default()
    };
    let repo = repo(&server, &setup, 5, &[], REWORDED);
    let body = repo.path().join("pr.md");
    std::fs::write(
        &body,
        "## Expected user impact\nFriendlier answers.\n\n## Rollback plan\nTBD\n",
    )
    .expect("write");
    let (code, report, _) = check(&repo, &["--pr-body", body.to_str().unwrap_or_default()]);
    assert_eq!(code, 1, "{report:#}");
    let artifacts = report["artifacts"].as_array().cloned().unwrap_or_default();
    assert_eq!(artifacts[0]["found"], true);
    assert_eq!(artifacts[0]["source"], "PR description");
    assert_eq!(artifacts[1]["found"], false);
    assert_contains(&reasons(&report), "artifact `rollback` is missing");
    // The comment's re-run line reads the same description.
    let run = common::run_with_env(
        repo.path(),
        &[
            "check",
            "--base",
            "main",
            "--format",
            "markdown",
            "--pr-body",
            "pr.md",
        ],
        &[(KEY_VAR, "sk-test")],
    );
    assert_contains(&run.stdout, "--pr-body pr.md</code>");
}

#[test]
fn a_head_that_lowers_its_threshold_is_judged_by_the_base_and_is_exec_tier() {
    let server = server();
    let setup = Setup::with_thresholds("min_pass_rate = 0.95\nmax_drop = 0.5\n");
    let repo = repo(&server, &setup, 10, &[2], BROKEN);
    let lowered = std::fs::read_to_string(repo.path().join("promptgate.toml"))
        .unwrap_or_default()
        .replace("min_pass_rate = 0.95", "min_pass_rate = 0.5");
    repo.write("promptgate.toml", lowered);
    repo.commit("lower the bar");
    let (code, report, _) = check(&repo, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(rule(&report, "min_pass_rate")["threshold"], 0.95);
    assert_eq!(report["tier"], "exec");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("min_pass_rate") && notes.contains("0.95"),
        "{notes}"
    );
}

#[test]
fn added_and_removed_surfaces() {
    let server = server();
    let repo = repo(
        &server,
        &Setup::default(),
        4,
        &[],
        "VERSION: good\nQ: {{ question }}\n",
    );
    let mut config =
        std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap_or_default();
    config.push_str("\n[[surface]]\nname = \"triage\"\nprompts = [\"triage/*.md\"]\ncases = \"evals/triage.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n");
    repo.write("promptgate.toml", config)
        .write("triage/route.md", "Route: {{ question }}\n")
        .write("evals/triage.jsonl", cases(3, &[]));
    repo.commit("add triage");
    let (code, report, _) = check(&repo, &[]);
    let triage = report["surfaces"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "triage"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(triage["change"], "added", "{report:#}");
    assert_eq!(triage["base"], Value::Null);
    assert_eq!(triage["head"]["cases"], 3);
    assert!(triage["notes"]
        .to_string()
        .contains("judged on its own thresholds"));
    assert_eq!(code, 0, "{report:#}");

    // Removing a surface is listed and loosens the gate (exec tier).
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["checkout", "-q", "-b", "drop"]);
    repo.write(
        "promptgate.toml",
        "[provider.main]\nkind = \"exec\"\ncommand = [\"cat\"]\n",
    );
    repo.commit("drop the surface");
    let (_, report, _) = check(&repo, &["--head", "drop"]);
    assert_eq!(report["surfaces"][0]["change"], "removed", "{report:#}");
    assert_eq!(report["tier"], "exec");
}

#[test]
fn a_failing_provider_is_an_error_never_a_pass() {
    let failing = Server::start(|_| Reply::json(500, json!({"error": {"message": "down"}})));
    let setup = Setup {
        extra: "",
        ..Setup::default()
    };
    let repo = repo(&failing, &setup, 3, &[], REWORDED);
    let config = std::fs::read_to_string(repo.path().join("promptgate.toml"))
        .unwrap_or_default()
        .replace("api_key_env", "max_retries = 0\napi_key_env");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("promptgate.toml", &config);
    repo.commit("no retries");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    let (code, report, _) = check(&repo, &[]);
    assert_verdict(code, &report, 4, "error");
    assert_contains(&reasons(&report), "fails closed");
}

#[test]
fn a_missing_base_commit_is_an_error_with_the_fix() {
    let server = server();
    let origin = repo(&server, &Setup::default(), 3, &[], REWORDED);
    let base = origin.git(&["rev-parse", "main"]);
    let clone = common::shallow_clone(origin.path(), "feature");
    let run = common::run_with_env(
        &clone,
        &["check", "--base", &base, "--format", "json"],
        &[(KEY_VAR, "k")],
    );
    assert_eq!(run.code, 4);
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(report["verdict"], "error");
    assert_contains(&reasons(&report), "fetch-depth: 0");
}

#[test]
fn an_invalid_base_config_is_an_error() {
    let server = server();
    let repo = repo(&server, &Setup::default(), 3, &[], REWORDED);
    repo.git(&["checkout", "-q", "main"]);
    repo.write("promptgate.toml", "[[surface]\n");
    repo.commit("break the config");
    repo.git(&["checkout", "-q", "feature"]);
    let (code, report, _) = check(&repo, &[]);
    assert_eq!(code, 4, "{report:#}");
    assert_contains(&reasons(&report), "base config is invalid");
}

#[test]
fn no_affected_surface_passes_without_evals() {
    let server = server();
    let repo = repo(
        &server,
        &Setup::default(),
        3,
        &[],
        "VERSION: good\nQ: {{ question }}\n",
    );
    repo.write("README.md", "docs only\n");
    repo.commit("docs");
    let (code, report, _) = check(&repo, &["--head", "HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn out_dir_gets_every_report_and_a_rerun_is_cached() {
    let server = server();
    let setup = Setup::with_thresholds("min_pass_rate = 0.9\nmax_drop = 0.5\n");
    let repo = repo(&server, &setup, 6, &[1], BROKEN);
    let out = repo.path().join("gate-out");
    let (code, _, _) = check(&repo, &["--out", out.to_str().unwrap_or_default()]);
    assert_eq!(code, 1);
    for file in ["report.json", "report.md", "junit.xml", "prompts.diff"] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap_or_default();
    assert_contains(
        &junit,
        "<testsuite name=\"support (head)\" tests=\"6\" failures=\"1\"",
    );
    let diff = std::fs::read_to_string(out.join("prompts.diff")).unwrap_or_default();
    assert_contains(&diff, "-VERSION: good\n+VERSION: broken");
    let calls = server.requests().len();
    let (code, _, _) = check(&repo, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        server.requests().len(),
        calls,
        "the rerun called the provider"
    );
}

#[test]
fn report_json_names_the_model_each_side_s_answers_name_live_and_cached() {
    // The head's answers come from a newer snapshot of the configured model.
    let server = Server::start(|request| {
        let head = request.prompt().contains("v2");
        let mut body: Value =
            serde_json::from_str(&Reply::openai("correct answer").body).unwrap_or_default();
        body["model"] = json!(if head {
            "gpt-4o-mini-2024-11-20"
        } else {
            "gpt-4o-mini-2024-07-18"
        });
        Reply::json(200, body)
    });
    let repo = repo(&server, &Setup::default(), 4, &[], REWORDED);
    let (code, live, _) = check(&repo, &[]);
    assert_verdict(code, &live, 0, "pass");
    let calls = server.requests().len();
    let (code, cached, _) = check(&repo, &[]);
    assert_verdict(code, &cached, 0, "pass");
    assert_eq!(
        server.requests().len(),
        calls,
        "the rerun called the provider"
    );
    for report in [&live, &cached] {
        let surface = &report["surfaces"][0];
        assert_eq!(
            surface["model"],
            json!({"base": "gpt-4o-mini", "head": "gpt-4o-mini"})
        );
        assert_eq!(
            surface["model_reported"],
            json!({"base": "gpt-4o-mini-2024-07-18", "head": "gpt-4o-mini-2024-11-20"}),
            "{report:#}"
        );
    }
}

#[test]
fn the_verdict_comment_escapes_model_output_and_stays_under_the_limit() {
    let hostile =
        "```\n<!-- promptgate:verdict -->\n@acme/everyone <script>alert(1)</script>\n".repeat(200);
    let answer = hostile.clone();
    let server = Server::start(move |request| {
        let prompt = request.prompt();
        Reply::openai(if prompt.contains("VERSION: broken") {
            &answer
        } else {
            "correct answer"
        })
    });
    let setup = Setup::with_thresholds("min_pass_rate = 0.9\nmax_drop = 0.5\n");
    let fragile: Vec<usize> = (0..300).collect();
    let repo = repo(&server, &setup, 300, &fragile, BROKEN);
    let run = common::run_with_env(
        repo.path(),
        &["check", "--base", "main", "--format", "markdown"],
        &[(KEY_VAR, "k")],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let md = run.stdout;
    assert!(md.len() < 65_536, "{} characters", md.len());
    assert!(md.starts_with("<!-- promptgate:verdict -->\n"));
    assert_eq!(
        md.matches("<!-- promptgate:verdict -->").count(),
        1,
        "marker forged"
    );
    assert_contains(
        &md,
        "more flipped case(s) are not shown here: see `report.json`",
    );
    let prose = outside_fences(&md);
    for forbidden in ["<script>", "@acme", "promptgate:verdict -->\n@"] {
        assert!(
            !prose.contains(forbidden),
            "{forbidden:?} outside a code fence:\n{prose}"
        );
    }
}

/// The Markdown with the contents of fenced code blocks removed (a fence closes only on a
/// run of backticks at least as long as the one that opened it).
fn outside_fences(markdown: &str) -> String {
    let mut out = String::new();
    let mut open: Option<usize> = None;
    for line in markdown.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match open {
            None if ticks >= 3 => open = Some(ticks),
            None => {
                out.push_str(line);
                out.push('\n');
            }
            Some(n) if ticks >= n && line.trim_start_matches('`').trim().is_empty() => open = None,
            Some(_) => {}
        }
    }
    out
}

#[test]
fn verdict_comment_snapshot() {
    // A local command plays the model: answers go wrong when the prompt says "terse".
    let repo = TestRepo::new();
    repo.write(
        "promptgate.toml",
        "[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"if grep -q terse; then echo 'No.'; else echo 'Refunds take 5 business days.'; fi\"]\n\n\
         [[surface]]\nname = \"support-answer\"\nprompts = [\"prompts/support/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"council\"\nmin_pass_rate = 0.8\nmax_drop = 0.1\n\n\
         [tier.council]\napprovers = [\"alice\", \"acme/prompt-council\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n",
    )
    .write("prompts/support/answer.md", "Answer the customer's question helpfully.\nQuestion: {{ question }}\n")
    .write(
        "evals/support.jsonl",
        (0..5).map(|i| format!("{}\n", json!({"id": format!("refund-{i}"), "vars": {"question": format!("How long do refunds take? ({i})")}, "assert": [{"type": "icontains", "value": "business days"}]}))).collect::<String>(),
    );
    repo.commit("support prompt");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/support/answer.md", "Answer the customer's question. Be terse.\nQuestion: {{ question }}\n")
        .write(".promptgate/changes/terse.md", "# Terse answers\n\n## Expected user impact\nShorter answers, fewer tokens.\n\n## Rollback plan\nTBD\n");
    repo.commit("support: terse answers");
    let run = common::run_in(
        repo.path(),
        &["check", "--base", "main", "--format", "markdown"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[sha12]");
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[sha7]");
    settings.bind(|| insta::assert_snapshot!(run.stdout));
}

#[test]
fn shards_merge_into_the_verdict_of_a_single_run() {
    let server = server();
    let setup = Setup {
        thresholds: "min_pass_rate = 0.9\nmax_drop = 0.2\ntail_min_pass_rate = 0.5\nmetrics = [{ name = \"accuracy\", min = 0.5 }]\n",
        ..Setup::default()
    };
    let repo = repo(&server, &setup, 24, &[2, 5, 11, 23], BROKEN);
    let (single_code, single, _) = check(&repo, &[]);
    let dirs: Vec<String> = (1..=3)
        .map(|k| repo.path().join(format!("shard{k}")).display().to_string())
        .collect();
    for (k, dir) in dirs.iter().enumerate() {
        let shard = format!("{}/3", k + 1);
        let run = common::run_with_env(
            repo.path(),
            &["check", "--base", "main", "--shard", &shard, "--out", dir],
            &[(KEY_VAR, "k")],
        );
        assert_eq!(
            run.code, 0,
            "a shard's partial verdict does not fail its job: {}",
            run.stderr
        );
    }
    let mut args = vec!["merge", "--format", "json"];
    args.extend(dirs.iter().map(String::as_str));
    let run = common::run_in(repo.path(), &args);
    let merged: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    assert_eq!(run.code, single_code);
    for field in ["verdict", "tier", "reasons"] {
        assert_eq!(merged[field], single[field], "{field}");
    }
    for field in [
        "base",
        "head",
        "regressions",
        "fixes",
        "flaky",
        "mcnemar_p",
        "tail",
        "rules",
        "metrics",
    ] {
        assert_eq!(
            merged["surfaces"][0][field], single["surfaces"][0][field],
            "{field}"
        );
    }
    // An incomplete set of shards is refused.
    let run = common::run_in(repo.path(), &["merge", &dirs[0], &dirs[2]]);
    assert_eq!(run.code, 2);
    assert_contains(&run.stderr, "do not cover 1..N");
}

#[test]
fn a_budget_overrun_is_an_error() {
    let server = server();
    let setup = Setup {
        extra: "[gate]\nmax_cost_usd = 0.0001\n",
        ..Setup::default()
    };
    let repo = repo(&server, &setup, 10, &[], REWORDED);
    let (code, report, _) = check(&repo, &[]);
    assert_verdict(code, &report, 4, "error");
    assert_contains(&reasons(&report), "max_cost_usd");
}

#[test]
fn a_provider_added_by_the_head_never_gets_a_secret_or_runs_a_command() {
    let server = server();
    let repo = repo(&server, &Setup::default(), 3, &[], REWORDED);
    let config = std::fs::read_to_string(repo.path().join("promptgate.toml"))
        .unwrap_or_default()
        .replace("provider = \"main\"", "provider = \"sneaky\"")
        .replace("[provider.main]", "[provider.sneaky]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"touch pwned; echo correct answer\"]\n\n[provider.main]");
    repo.write("promptgate.toml", config);
    repo.commit("switch to a new provider");
    let (code, report, _) = check(&repo, &[]);
    assert_eq!(code, 4, "{report:#}");
    assert_contains(
        &reasons(&report),
        "the change adds provider `sneaky`; where answers come from is the base's to decide",
    );
    assert!(
        !repo.path().join("pwned").exists(),
        "the head's command ran"
    );
}

#[test]
fn a_missing_key_is_said_once_and_a_symlinked_prompt_says_why() {
    let server = server();
    let repo = repo(&server, &Setup::default(), 3, &[], REWORDED);
    let run = common::run_in(
        repo.path(),
        &["check", "--base", "main", "--format", "json"],
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    assert_eq!(run.code, 4, "{report:#}");
    let said = reasons(&report);
    assert_eq!(said.matches(KEY_VAR).count(), 1, "{said}");

    // The head turns the prompt into a symlink: blocked, and the reason says what was found.
    repo.remove("prompts/answer.md");
    std::os::unix::fs::symlink("../elsewhere.md", repo.path().join("prompts/answer.md"))
        .unwrap_or_else(|e| panic!("symlink: {e}"));
    repo.commit("symlink the prompt");
    let (code, report, _) = check(&repo, &[]);
    assert_verdict(code, &report, 1, "blocked");
    assert_contains(&reasons(&report), "symlink under the prompt globs");
}

// --- in process: the library's `check` with a pull source of the test's own ------------

mod in_process {
    use super::*;
    use promptgate::check::{self, CheckRequest, Local, PullSource};
    use promptgate::github::approvals::{Comment, Membership, Review};
    use promptgate::github::{GithubError, PullRequest};

    /// A pull request as a test describes it: its head, its body and who approved it.
    struct FakePull {
        pull: PullRequest,
        reviews: Vec<Review>,
    }

    impl FakePull {
        fn new(repo: &TestRepo, approved_by: &[&str]) -> FakePull {
            let head = repo.git(&["rev-parse", "HEAD"]);
            FakePull {
                pull: PullRequest {
                    number: 7,
                    base_sha: repo.git(&["rev-parse", "main"]),
                    base_ref: "main".into(),
                    head_sha: head.clone(),
                    head_ref: "feature".into(),
                    body: "## Expected user impact\nAnswers read more naturally.\n\n## Rollback plan\nRevert the merge commit.\n".into(),
                    author: "bob".into(),
                    head_repo: None,
                    base_repo: None,
                },
                reviews: approved_by
                    .iter()
                    .map(|login| Review {
                        login: login.to_string(),
                        state: "APPROVED".into(),
                        commit_id: Some(head.clone()),
                        submitted_at: None,
                    })
                    .collect(),
            }
        }
    }

    impl PullSource for FakePull {
        fn number(&self) -> Option<u64> {
            Some(self.pull.number)
        }
        fn pull(&self) -> Option<&PullRequest> {
            Some(&self.pull)
        }
        fn approvals_given(&self, _: u64) -> Result<(Vec<Review>, Vec<Comment>), GithubError> {
            Ok((self.reviews.clone(), Vec::new()))
        }
        fn membership(&self, _: &str, _: &str, _: &str) -> Membership {
            Membership::NotMember
        }
    }

    fn request() -> CheckRequest {
        CheckRequest {
            base: Some("main".into()),
            config_path: "promptgate.toml".into(),
            read_cache: true,
            ..CheckRequest::default()
        }
    }

    fn open(repo: &TestRepo) -> promptgate::git::Repo {
        // Every test sets the same value: the provider reads its key from the environment.
        std::env::set_var(KEY_VAR, "sk-test");
        promptgate::git::Repo::discover(repo.path()).expect("open the test repository")
    }

    #[test]
    fn the_library_gives_the_verdict_the_binary_gives() {
        let server = server();
        let repo = repo(&server, &Setup::default(), 10, &[1, 2, 3, 4, 5, 6], BROKEN);
        let (code, report, _) = check(&repo, &[]);
        let checked = check::check(&open(&repo), &request(), &Local).expect("check runs");
        assert_eq!(checked.report.exit_code, code);
        assert_eq!(checked.report.verdict.as_str(), report["verdict"]);
        let library = serde_json::to_value(&checked.report.surfaces).expect("JSON");
        assert_eq!(library[0]["rules"], report["surfaces"][0]["rules"]);
        assert_eq!(library[0]["flips"], report["surfaces"][0]["flips"]);
    }

    #[test]
    fn a_pull_source_supplies_the_description_and_the_approvals() {
        let server = server();
        let setup = Setup {
            tier: "council",
            ..Setup::default()
        };
        let repo = repo(&server, &setup, 5, &[], REWORDED);
        let git = open(&repo);
        let unapproved = check::check(&git, &request(), &FakePull::new(&repo, &[])).expect("runs");
        assert_eq!(
            unapproved.report.verdict.as_str(),
            "needs-signoff",
            "{:#?}",
            unapproved.report
        );
        assert!(
            unapproved.report.artifacts.iter().all(|a| a.found),
            "{:#?}",
            unapproved.report.artifacts
        );
        assert_eq!(unapproved.report.pull_request, Some(7));
        let approved =
            check::check(&git, &request(), &FakePull::new(&repo, &["alice"])).expect("runs");
        assert_eq!(
            approved.report.verdict.as_str(),
            "pass",
            "{:#?}",
            approved.report
        );
        // The author cannot approve their own change.
        let own = check::check(&git, &request(), &FakePull::new(&repo, &["bob"])).expect("runs");
        assert_eq!(own.report.verdict.as_str(), "needs-signoff");
    }
}

#[test]
fn a_gate_that_resolved_nothing_names_no_base_or_head() {
    let dir = common::tempdir();
    for (format, header) in [
        ("text", "promptgate check: ERROR (tier self)\n"),
        ("markdown", "**Tier:** self\n"),
    ] {
        let run = common::run_in(&dir, &["check", "--format", format, "--color", "never"]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        common::assert_contains(&run.stdout, header);
        assert!(!run.stdout.contains('?'), "{}", run.stdout);
    }
}
