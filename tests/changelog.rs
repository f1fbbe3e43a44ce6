//! The Friday changelog, end to end: a repository whose last week holds three merged pull
//! requests — a prompt change that flips two cases (with its change record), a model change
//! (squash-merged), a docs-only change — against a local model server. `changelog --since
//! 7d` lists exactly the first two, oldest first, with their deltas, the model change and the
//! artifact texts; computed with an empty ledger, and the same from a filled one. A change
//! whose message names no pull request gets its number and title from (a fake) GitHub.

mod common;
#[path = "common/github.rs"]
mod github;
#[path = "common/http.rs"]
mod http;

use common::TestRepo;
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";
const DAY: i64 = 86_400;

/// Fails questions 2 and 3 under a terse prompt, except that gpt-4.1-mini gets 3 right.
fn server() -> Server {
    Server::start(|request| {
        let prompt = request.prompt();
        let model = request.json()["model"].as_str().unwrap_or("").to_string();
        let terse = prompt.contains("Be terse");
        let wrong = terse
            && (prompt.contains("question 2")
                || (prompt.contains("question 3") && model != "gpt-4.1-mini"));
        Reply::openai(if wrong { "wrong" } else { "correct" })
    })
}

fn config(url: &str, model: &str) -> String {
    format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"{model}\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"council\"\nmin_pass_rate = 0.5\n\n\
         [tier.council]\napprovers = [\"alice\"]\nartifacts = [\"impact\", \"rollback\"]\n"
    )
}

/// Returns the repository and the SHAs of the three merges.
fn week_of_merges(server: &Server) -> (TestRepo, [String; 3]) {
    let repo = TestRepo::new();
    let now = common::now();
    let cases: String = (0..10)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": format!("c{i}"), "vars": {"question": format!("question {i}")}, "assert": [{"type": "contains", "value": "correct"}]})
            )
        })
        .collect();
    repo.write("promptgate.toml", config(&server.url, "gpt-4o-mini"))
        .write("prompts/answer.md", "Q: {{ question }}\n")
        .write("evals/support.jsonl", cases)
        .write("README.md", "support bot\n")
        .write(".gitignore", ".promptgate/cache\n");
    repo.commit_at("start", now - 10 * DAY);

    // #1: a terse prompt, with its change record.
    repo.git(&["checkout", "-q", "-b", "terse"]);
    repo.write("prompts/answer.md", "Be terse.\nQ: {{ question }}\n")
        .write(
            ".promptgate/changes/terse.md",
            "# Terse tone\n\n## Expected user impact\nShorter answers.\n\n## Rollback plan\nRevert the merge.\n",
        );
    repo.commit_at("Terse tone", now - 3 * DAY - 3600);
    repo.git(&["checkout", "-q", "main"]);
    repo.git_at(
        now - 3 * DAY,
        &[
            "merge",
            "-q",
            "--no-ff",
            "terse",
            "-m",
            "Merge pull request #1 from acme/terse\n\nTerse tone",
        ],
    );
    let first = repo.git(&["rev-parse", "HEAD"]);

    // #2: a model change, squash-merged.
    repo.write("promptgate.toml", config(&server.url, "gpt-4.1-mini"));
    let second = repo.commit_at("Use gpt-4.1-mini (#2)", now - 2 * DAY);

    // #3: docs only.
    repo.git(&["checkout", "-q", "-b", "docs"]);
    repo.write("README.md", "support bot, now terse\n");
    repo.commit_at("Docs", now - DAY - 3600);
    repo.git(&["checkout", "-q", "main"]);
    repo.git_at(
        now - DAY,
        &[
            "merge",
            "-q",
            "--no-ff",
            "docs",
            "-m",
            "Merge pull request #3 from acme/docs\n\nDocs",
        ],
    );
    let third = repo.git(&["rev-parse", "HEAD"]);
    (repo, [first, second, third])
}

fn changelog(repo: &TestRepo, format: &str) -> common::Run {
    let run = common::run_with_env(
        repo.path(),
        &["changelog", "--since", "7d", "--format", format],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

/// The changelog's JSON without where each change's facts came from (and the window's
/// ends, which move with the clock).
fn without_source(mut log: Value) -> Value {
    let object = log.as_object_mut().expect("changelog");
    object.remove("since");
    object.remove("until");
    for change in log["changes"].as_array_mut().expect("changes") {
        change.as_object_mut().expect("change").remove("source");
    }
    log
}

#[test]
fn the_week_lists_the_prompt_and_model_changes_with_their_deltas_from_either_source() {
    let server = server();
    let (repo, [first, second, third]) = week_of_merges(&server);

    let computed: Value =
        serde_json::from_str(&changelog(&repo, "json").stdout).expect("changelog JSON");
    let changes = computed["changes"].as_array().expect("changes");
    let listed: Vec<&str> = changes
        .iter()
        .filter_map(|c| c["commit"].as_str())
        .collect();
    assert_eq!(listed, [first.as_str(), second.as_str()], "{computed:#}");

    let terse = &changes[0];
    assert_eq!(terse["pr"], 1);
    assert_eq!(terse["title"], "Terse tone");
    assert_eq!(terse["surfaces"], json!(["support"]));
    assert_eq!(terse["tier"], "council");
    assert_eq!(terse["source"], "computed");
    let delta = &terse["details"][0];
    assert_eq!(delta["pass_rate"], json!({"base": 1.0, "head": 0.8}));
    assert_eq!(delta["regressions"], json!(["c2", "c3"]));
    assert_eq!(delta["fixes"], json!([]));
    assert_eq!(
        delta["model"],
        json!({"base": "gpt-4o-mini", "head": "gpt-4o-mini"})
    );
    assert!(delta["cost_usd"]["base"].is_number() && delta["cost_usd"]["head"].is_number());
    assert!(delta["latency_p95_ms"]["head"].is_number());
    assert_eq!(terse["impact"], "Shorter answers.");
    assert_eq!(terse["rollback"], "Revert the merge.");

    let model = &changes[1];
    assert_eq!(model["pr"], 2);
    assert_eq!(model["title"], "Use gpt-4.1-mini");
    let delta = &model["details"][0];
    assert_eq!(
        delta["model"],
        json!({"base": "gpt-4o-mini", "head": "gpt-4.1-mini"})
    );
    assert_eq!(delta["pass_rate"], json!({"base": 0.8, "head": 0.9}));
    assert_eq!(delta["fixes"], json!(["c3"]));

    // The biggest mover is the terse prompt's 20-point drop.
    let eval = computed["insights"]["eval"]
        .as_str()
        .expect("an eval insight");
    common::assert_contains(eval, "100.0% → 80.0% (-20.0 points) with #1 Terse tone");
    assert!(
        computed["insights"]["cost_latency"].is_string()
            || computed["insights"]["cost_latency"].is_null()
    );

    // Record each merge: the ledger now has their gate entries, from the same cached answers.
    let calls = server.requests().len();
    for commit in [&first, &second, &third] {
        let run = common::run_with_env(
            repo.path(),
            &["record", "--rev", commit],
            &[(KEY_VAR, "sk-test")],
        );
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    }
    assert_eq!(
        server.requests().len(),
        calls,
        "recording the merges called the model"
    );
    let filled: Value =
        serde_json::from_str(&changelog(&repo, "json").stdout).expect("changelog JSON");
    assert!(filled["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .all(|c| c["source"] == "ledger"));
    assert_eq!(without_source(filled), without_source(computed));
}

#[test]
fn the_markdown_leaves_the_person_written_parts_empty() {
    let server = server();
    let (repo, _) = week_of_merges(&server);
    let markdown = changelog(&repo, "markdown").stdout;
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[short]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}", "[date]");
    settings.add_filter(r"\d+ ms", "[n] ms");
    // The local server's latency varies run to run, and with it the largest relative change.
    settings.add_filter(
        r"- Cost or latency: .*",
        "- Cost or latency: [the largest relative change]",
    );
    settings.bind(|| insta::assert_snapshot!(markdown));
}

#[test]
fn a_window_without_changes_to_surfaces_says_so() {
    let server = server();
    let (repo, [_, second, _]) = week_of_merges(&server);
    let run = common::run_with_env(
        repo.path(),
        &["changelog", "--since", &second, "--format", "json"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(log["changes"], json!([]));
    assert_eq!(log["insights"], json!({"eval": null, "cost_latency": null}));
    // Until a revision: the first merge only.
    let run = common::run_with_env(
        repo.path(),
        &["changelog", "--until", "HEAD~2", "--format", "json"],
        &[(KEY_VAR, "sk-test")],
    );
    let log: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(log["changes"].as_array().map(Vec::len), Some(1), "{log:#}");
}

#[test]
fn a_message_without_a_pull_request_is_asked_of_github() {
    let server = server();
    let (repo, _) = week_of_merges(&server);
    // Rebase-merged: the message names no pull request.
    repo.write("prompts/answer.md", "Be kind.\nQ: {{ question }}\n");
    let tweak = repo.commit_at("Tone tweak", common::now() - 3600);
    let gh = github::GitHub::start();
    let token = "ghs_ChangelogToken0123456789";
    gh.add_integration_token(token, "github-actions[bot]");
    gh.set_commit_pulls(
        &tweak,
        vec![
            json!({"number": 8, "title": "Still open", "merged_at": null}),
            json!({"number": 9, "title": "Friendlier tone", "merged_at": "2026-11-30T10:00:00Z", "merge_commit_sha": tweak}),
        ],
    );
    let api = gh.url();
    let run = |token: Option<&str>| {
        let mut env = vec![(KEY_VAR, "sk-test"), ("GITHUB_API_URL", api.as_str())];
        env.extend(token.map(|t| ("GITHUB_TOKEN", t)));
        let run = common::run_with_env(
            repo.path(),
            &["changelog", "--format", "json", "--repo", "acme/prompts"],
            &env,
        );
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let log: Value = serde_json::from_str(&run.stdout).expect("changelog JSON");
        let last = log["changes"].as_array().and_then(|c| c.last()).cloned();
        (last.expect("a change"), run.stderr)
    };

    let (change, _) = run(Some(token));
    assert_eq!(change["commit"], tweak.as_str());
    assert_eq!(
        (&change["pr"], &change["title"]),
        (&json!(9), &json!("Friendlier tone"))
    );
    // Only the change whose message names no pull request was asked about.
    let asked = gh.requests_to("GET", "/commits/");
    assert_eq!(asked.len(), 1);
    common::assert_contains(
        &asked[0].path,
        format!("/repos/acme/prompts/commits/{tweak}/pulls"),
    );

    let (change, _) = run(None);
    assert_eq!(
        (&change["pr"], &change["title"]),
        (&Value::Null, &json!("Tone tweak"))
    );
    assert_eq!(gh.requests_to("GET", "/commits/").len(), 1);

    for _ in 0..3 {
        gh.fail_next("GET", "/commits/", github::Reply::server_error(500));
    }
    let (change, stderr) = run(Some(token));
    assert_eq!(change["commit"], tweak.as_str());
    assert_eq!(
        (&change["pr"], &change["title"]),
        (&Value::Null, &json!("Tone tweak"))
    );
    common::assert_contains(&stderr, "warning");
    common::assert_contains(&stderr, "listed without one");
}
