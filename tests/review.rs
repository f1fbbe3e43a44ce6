//! The Monday review, end to end: a real repository with twelve weeks of first-parent
//! history (commit dates set per week, one week without a commit), `record --backfill 12`
//! against a local model server, then `promptgate review`: twelve weekly points with the
//! empty week `null`, the pull request merged this week that flipped the two hardest cases
//! flagged by number, and the stealth call-out (the tail fell while the average held).

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

/// Fifty cases by rising difficulty; the two hardest ask a "hardest" question.
fn cases() -> String {
    (0..50)
        .map(|i| {
            let kind = if i >= 48 { "hardest" } else { "plain" };
            format!(
                "{}\n",
                json!({"id": format!("case-{i}"), "difficulty": i, "vars": {"question": format!("{kind} question {i}")}, "assert": [{"type": "contains", "value": "correct"}]})
            )
        })
        .collect()
}

/// Answers correctly, except the hardest questions under a prompt that asks for brevity.
fn server() -> Server {
    Server::start(|request| {
        let prompt = request.prompt();
        Reply::openai(
            if prompt.contains("Be brief") && prompt.contains("hardest") {
                "wrong"
            } else {
                "correct"
            },
        )
    })
}

/// This week's Monday, 00:00 UTC, as Unix seconds.
fn monday() -> i64 {
    let today = common::now().div_euclid(DAY);
    let weekday = (today + 3).rem_euclid(7); // 0 = Monday
    (today - weekday) * DAY
}

/// Twelve weeks: a commit on the Thursday of each earlier week but the sixth back, then
/// this week the merge of pull request #7 (a prompt asking for brevity) and a docs commit.
fn twelve_weeks(server: &Server) -> (TestRepo, String) {
    let repo = TestRepo::new();
    let config = format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n",
        server.url
    );
    repo.write("promptgate.toml", config)
        .write("prompts/answer.md", "Q: {{ question }}\n")
        .write("evals/support.jsonl", cases())
        .write("docs/notes.md", "week 11\n")
        .write(".gitignore", ".promptgate/\n");
    let thursday = |back: i64| monday() - back * 7 * DAY + 3 * DAY + 12 * 3600;
    repo.commit_at("start", thursday(11));
    for back in (1..=10).rev().filter(|&b| b != 6) {
        repo.write("docs/notes.md", format!("week {back}\n"));
        repo.commit_at(&format!("notes, {back} week(s) back"), thursday(back));
    }
    // This week, between Monday 00:00 and now.
    let span = (common::now() - monday()).max(3);
    let (branch_at, merge_at, docs_at) = (
        monday() + span / 4,
        monday() + span / 2,
        monday() + 3 * span / 4,
    );
    repo.git(&["checkout", "-q", "-b", "brief"]);
    repo.write("prompts/answer.md", "Be brief. Q: {{ question }}\n");
    repo.commit_at("Ask for brevity", branch_at);
    repo.git(&["checkout", "-q", "main"]);
    repo.git_at(
        merge_at,
        &[
            "merge",
            "-q",
            "--no-ff",
            "brief",
            "-m",
            "Merge pull request #7 from acme/brief\n\nAsk for brevity",
        ],
    );
    let merge = repo.git(&["rev-parse", "HEAD"]);
    repo.write("docs/notes.md", "this week\n");
    repo.commit_at("notes, this week", docs_at);
    (repo, merge)
}

fn review_json(repo: &TestRepo) -> Value {
    let run = common::run_with_env(
        repo.path(),
        &["review", "--format", "json"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout))
}

#[test]
fn twelve_weeks_backfilled_give_twelve_points_a_flag_with_its_pr_and_the_stealth_tail() {
    let server = server();
    let (repo, merge) = twelve_weeks(&server);
    let run = common::run_with_env(
        repo.path(),
        &["record", "--backfill", "12"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let calls = server.requests().len();

    let review = review_json(&repo);
    assert_eq!(review["weeks"].as_array().map(Vec::len), Some(12));
    let surface = &review["surfaces"][0];
    assert_eq!(surface["name"], "support");
    assert_eq!(surface["headline"]["metric"], "pass_rate");
    let points = surface["headline"]["points"].as_array().expect("points");
    assert_eq!(points.len(), 12);
    // Six weeks back (index 5 of 12) had no commit: null, never invented.
    let nulls: Vec<usize> = (0..12).filter(|&i| points[i].is_null()).collect();
    assert_eq!(nulls, [5], "{points:#?}");
    assert_eq!(points[10]["value"], 1.0);
    assert_eq!(points[11]["value"], 0.96);
    assert!(points[11]["ci_low"].as_f64() < Some(0.96));

    // The merge of #7 flipped the two hardest cases: flagged with that pull request.
    let flags = surface["regressions"].as_array().expect("regressions");
    let cases: Vec<&str> = flags.iter().filter_map(|f| f["case"].as_str()).collect();
    assert_eq!(cases, ["case-48", "case-49"]);
    for flag in flags {
        assert_eq!(flag["since"]["commit"], merge.as_str());
        assert_eq!(flag["since"]["pr"], 7);
        assert_eq!(flag["since"]["title"], "Ask for brevity");
    }
    // The tail (the 5 hardest) fell from 100% to 60% while the average moved 4 points.
    let tail = surface["tail"]["points"].as_array().expect("tail");
    assert_eq!(tail[11], 0.6);
    assert_eq!(surface["tail"]["stealth"], true);
    assert_eq!(surface["drift"], json!([]));
    assert_eq!(surface["records_this_week"], 11);
    let incidents = review["incidents"].as_array().expect("incidents");
    assert!(!incidents.is_empty() && incidents.len() <= 2);
    assert_eq!(incidents[0]["kind"], "regression");
    common::assert_contains(incidents[0]["text"].as_str().unwrap_or(""), "#7");
    let experiments = review["suggested_experiments"]
        .as_array()
        .expect("experiments");
    assert!(experiments
        .iter()
        .any(|e| e["text"].as_str().is_some_and(|t| t.contains("hard cases"))));
    common::assert_contains(review["summary"].as_str().unwrap_or(""), "regression flag");
    // Tracing the flags to #7 came from the cache: the merge evaluates like the tip.
    assert_eq!(
        server.requests().len(),
        calls,
        "the review called the model"
    );

    // Text shows sparklines with the gap; Markdown a Mermaid chart.
    let text = common::run_with_env(repo.path(), &["review"], &[(KEY_VAR, "sk-test")]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    common::assert_contains(&text.stdout, "·");
    common::assert_contains(&text.stdout, "regression case-48");
    common::assert_contains(&text.stdout, "STEALTH");
    let markdown = common::run_with_env(
        repo.path(),
        &["review", "--format", "markdown"],
        &[(KEY_VAR, "sk-test")],
    );
    common::assert_contains(&markdown.stdout, "```mermaid\nxychart-beta");
    common::assert_contains(&markdown.stdout, "| no record |");
}

#[test]
fn post_opens_the_weeks_issue_once_and_out_writes_the_charts() {
    let server = server();
    let (repo, _) = twelve_weeks(&server);
    let record = common::run_with_env(
        repo.path(),
        &["record", "--backfill", "12"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(record.code, 0, "{}", record.stderr);
    let gh = github::GitHub::start();
    let token = "ghs_ReviewToken0123456789";
    gh.add_integration_token(token, "github-actions[bot]");
    let out = common::tempdir();
    let api = gh.url();
    let post = |extra: &[&str]| {
        let mut args = vec!["review", "--post", "--repo", "acme/prompts"];
        args.extend_from_slice(extra);
        common::run_with_env(
            repo.path(),
            &args,
            &[
                (KEY_VAR, "sk-test"),
                ("GITHUB_API_URL", &api),
                ("GITHUB_TOKEN", token),
            ],
        )
    };
    let first = post(&["--out", out.to_str().expect("utf-8")]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    common::assert_contains(&first.stderr, "opened");
    let issues = gh.issues();
    assert_eq!(issues.len(), 1);
    let week = {
        let review = review_json(&repo);
        review["weeks"][11].as_str().expect("week").to_string()
    };
    assert_eq!(issues[0].title, format!("Eval review {week}"));
    let body = issues[0].body.clone().unwrap_or_default();
    common::assert_contains(&body, format!("<!-- promptgate:review {week} -->"));
    common::assert_contains(&body, "- [ ] support: `case-48`: since");
    common::assert_contains(&body, "- [ ] support: `case-49`: since");
    common::assert_contains(&body, "#7 Ask for brevity");
    common::assert_contains(&body, "```mermaid");
    assert!(!body.contains(token));

    // Rerun in the same week: the same issue, edited in place.
    let second = post(&[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(gh.issues().len(), 1);

    for name in ["review.json", "review.md", "review-support.svg"] {
        assert!(out.join(name).is_file(), "{name} was not written");
    }
    let svg = std::fs::read_to_string(out.join("review-support.svg")).expect("svg");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    common::assert_contains(&svg, "support: pass_rate");

    // Without a repository to post to, nothing is evaluated and the fix is named.
    let nowhere = common::run_with_env(repo.path(), &["review", "--post"], &[(KEY_VAR, "sk-test")]);
    assert_eq!(nowhere.code, 2, "{}", nowhere.stderr);
    common::assert_contains(&nowhere.stderr, "--repo OWNER/NAME");
}

#[test]
fn a_surface_filter_and_an_unknown_surface() {
    let server = server();
    let (repo, _) = twelve_weeks(&server);
    let run = common::run_with_env(
        repo.path(),
        &["review", "--surface", "nope"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stderr, "not a gated surface");
    common::assert_contains(&run.stderr, "support");
    // Without records every week is null, and nothing is flagged.
    let review = review_json(&repo);
    let points = review["surfaces"][0]["headline"]["points"]
        .as_array()
        .expect("points");
    assert!(points.iter().all(Value::is_null), "{points:#?}");
    assert_eq!(review["surfaces"][0]["regressions"], json!([]));
    assert_eq!(review["incidents"], json!([]));
}

#[test]
fn a_fresh_clone_reviews_the_remotes_ledger_unless_told_not_to_fetch() {
    let server = server();
    let (repo, _) = twelve_weeks(&server);
    let bare = common::bare_clone(repo.path());
    repo.git(&["remote", "add", "origin", &bare.display().to_string()]);
    let record = common::run_with_env(
        repo.path(),
        &["record", "--backfill", "12", "--push"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(record.code, 0, "{}", record.stderr);

    let clone = common::tempdir();
    common::git_in(&clone, &["clone", "-q", &bare.display().to_string(), "."]);
    let points = |args: &[&str]| {
        let run = common::run_with_env(&clone, args, &[(KEY_VAR, "sk-test")]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let review: Value = serde_json::from_str(&run.stdout).expect("review JSON");
        review["surfaces"][0]["headline"]["points"]
            .as_array()
            .expect("points")
            .iter()
            .filter(|p| !p.is_null())
            .count()
    };
    assert_eq!(points(&["review", "--format", "json", "--no-fetch"]), 0);
    assert_eq!(points(&["review", "--format", "json"]), 11);

    // An unreachable remote is an error that names the way out.
    common::git_in(
        &clone,
        &["remote", "set-url", "origin", "/nonexistent/remote.git"],
    );
    let run = common::run_with_env(&clone, &["review"], &[(KEY_VAR, "sk-test")]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stderr, "cannot fetch the ledger from `origin`");
    common::assert_contains(&run.stderr, "--no-fetch");
}
