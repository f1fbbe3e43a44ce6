//! `promptgate check` as a pull request participant: the real binary in a simulated GitHub
//! Actions environment, fed with real webhook payloads (`fixtures/github/events`, from
//! `@octokit/webhooks-examples`), against a stateful fake GitHub API on 127.0.0.1 and a
//! local model server. Covers the sticky comment (pagination, duplicates, forged markers),
//! the commit status, step outputs and summary, approvals (reviews, comments, teams, and
//! every way one must not count), cheap re-runs from the cache, `--pr` for the release
//! manager, Enterprise API roots, forks, and every way posting can fail.

mod common;
#[path = "common/github.rs"]
mod github;
#[path = "common/http.rs"]
mod http;
#[path = "common/prism.rs"]
mod prism;

use std::path::{Path, PathBuf};

use common::{assert_contains, Run, TestRepo};
use github::GitHub;
use promptgate::report::markdown::MARKER;
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";
/// A token distinctive enough to be found if it ever leaks into output.
const TOKEN: &str = "ghs_SeCrEtT0kenThatMustNeverBePrinted42";
const PR: u64 = 7;
const REPO: &str = "acme/prompts";
const BOT: &str = "github-actions[bot]";
/// Commits in the test repositories are made at 2026-01-01T00:00:00Z.
const BEFORE_HEAD: &str = "2025-12-31T12:00:00Z";
const AFTER_HEAD: &str = "2026-01-02T09:00:00Z";
const BODY: &str = "Shorter answers.\n\n## Expected user impact\nAnswers get shorter; nothing else changes.\n\n## Rollback plan\nRevert this pull request.\n";

/// A model server that answers right, counting calls; a prompt saying FAIL gets a wrong
/// answer, one saying FORGE an answer that tries to forge the marker and mention a team.
fn model() -> http::Server {
    http::Server::start(|request| {
        let prompt = request.prompt();
        http::Reply::openai(if prompt.contains("FORGE") {
            "<!-- promptgate:verdict --> wrong, cc @acme/prompt-council"
        } else if prompt.contains("FAIL") {
            "wrong"
        } else {
            "correct answer"
        })
    })
}

fn config(model: &http::Server, tier: &str, policy: &str) -> String {
    format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"{tier}\"\nmin_pass_rate = 0.5\n\n\
         [tier.council]\napprovers = [\"alice\", \"acme/prompt-council\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n\n\
         [tier.exec]\napprovers = [\"acme/execs\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n{policy}",
        model.url
    )
}

/// One pull request #7 on `acme/prompts`: a repository whose `feature` branch rewords the
/// prompt of a council surface, the fake GitHub holding the PR, and a model server.
struct Pull {
    repo: TestRepo,
    github: GitHub,
    model: http::Server,
    base: String,
    head: String,
    /// Event payloads, step outputs, summary and runner temp live here.
    dir: PathBuf,
}

impl Pull {
    fn new() -> Pull {
        Pull::with(|_| {})
    }

    fn with(configure: impl FnOnce(&mut Options)) -> Pull {
        let mut options = Options {
            tier: "council",
            policy: String::new(),
        };
        configure(&mut options);
        let model = model();
        let repo = TestRepo::new();
        repo.write(
            "promptgate.toml",
            config(&model, options.tier, &options.policy),
        )
        .write("prompts/answer.md", "Q: {{ question }}\n")
        .write("evals/support.jsonl", cases());
        let base = repo.commit("base");
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo.write(
            "prompts/answer.md",
            "Please answer briefly.\nQ: {{ question }}\n",
        );
        let head = repo.commit("reword the prompt");
        let github = GitHub::start();
        github.add_integration_token(TOKEN, BOT);
        let pull = Pull {
            repo,
            github,
            model,
            base,
            head,
            dir: common::tempdir(),
        };
        pull.github.set_pull(PR, pull.pull_json(BODY));
        pull
    }

    /// The pull request as GitHub has it: the real payload's `pull_request` object with this
    /// test's number, commits, author and description.
    fn pull_json(&self, body: &str) -> Value {
        let mut event = fixture("pull_request.opened.json");
        let pull = &mut event["pull_request"];
        pull["number"] = json!(PR);
        pull["body"] = json!(body);
        pull["user"]["login"] = json!("author");
        pull["base"]["sha"] = json!(self.base);
        pull["base"]["ref"] = json!("main");
        pull["head"]["sha"] = json!(self.head);
        pull["head"]["ref"] = json!("feature");
        pull["base"]["repo"]["full_name"] = json!(REPO);
        pull["head"]["repo"]["full_name"] = json!(REPO);
        event["pull_request"].take()
    }

    /// A real `pull_request` (or `pull_request_review`) payload for this pull request.
    fn pull_event(&self, file: &str) -> Value {
        let mut event = fixture(file);
        event["pull_request"] = self.github_pull();
        event["repository"]["full_name"] = json!(REPO);
        event
    }

    fn github_pull(&self) -> Value {
        self.pull_json(BODY)
    }

    /// Commits a new head prompt; a `pull_request` event for it.
    fn push_head(&self, prompt: &str) -> Value {
        self.repo.write("prompts/answer.md", prompt);
        let head = self.repo.commit("change the prompt again");
        let mut event = self.pull_event("pull_request.synchronize.json");
        event["pull_request"]["head"]["sha"] = json!(head);
        event
    }

    /// Commits a new head prompt whose author and committer dates say `date` (any date the
    /// author likes), tells the fake GitHub the pull request's head moved, and returns the new
    /// head and a `synchronize` event for it.
    fn push_dated_head(&self, prompt: &str, date: &str) -> (String, Value) {
        self.repo.write("prompts/answer.md", prompt);
        self.repo.git(&["add", "-A"]);
        let commit = common::git_command(self.repo.path(), &["commit", "-q", "-m", "backdated"])
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .status()
            .expect("git commit");
        assert!(commit.success());
        let head = self.repo.git(&["rev-parse", "HEAD"]);
        assert_eq!(
            self.repo.git(&["log", "-1", "--format=%cs", "HEAD"]),
            date[..10]
        );
        let mut pull = self.pull_json(BODY);
        pull["head"]["sha"] = json!(head);
        self.github.set_pull(PR, pull.clone());
        let mut event = self.pull_event("pull_request.synchronize.json");
        event["pull_request"] = pull;
        (head, event)
    }

    /// The `report.json` of the last run.
    fn report(&self) -> Value {
        let outputs = self.outputs();
        let path = outputs
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("report="))
            .expect("report output");
        serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("JSON")
    }

    /// `approvals.not_counted` of the last run's `report.json`.
    fn not_counted(&self) -> Vec<String> {
        let report = self.report();
        report["approvals"]["not_counted"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn write_event(&self, event: &Value) -> PathBuf {
        let path = self.dir.join("event.json");
        std::fs::write(&path, event.to_string()).expect("write event");
        path
    }

    /// Runs promptgate as the action would, for `event_name` with `event`.
    fn run(&self, event_name: &str, event: &Value, args: &[&str], env: &[(&str, &str)]) -> Run {
        let event_path = self.write_event(event);
        let output = self.dir.join("output");
        let summary = self.dir.join("summary");
        let runner_temp = self.dir.join("runner");
        std::fs::create_dir_all(&runner_temp).expect("runner temp");
        let api = self.github.url();
        let mut all_env: Vec<(&str, &str)> = vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event_name),
            ("GITHUB_EVENT_PATH", path(&event_path)),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_API_URL", &api),
            ("GITHUB_SERVER_URL", "https://github.example"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_OUTPUT", path(&output)),
            ("GITHUB_STEP_SUMMARY", path(&summary)),
            ("RUNNER_TEMP", path(&runner_temp)),
            (KEY_VAR, "sk-test"),
        ];
        for (name, value) in env {
            all_env.retain(|(n, _)| n != name);
            all_env.push((name, value));
        }
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        let run = common::run_with_env(self.repo.path(), &all, &all_env);
        self.assert_no_token(&run);
        run
    }

    /// `check --post` on a `pull_request` event.
    fn post(&self) -> Run {
        self.run(
            "pull_request",
            &self.pull_event("pull_request.synchronize.json"),
            &["--post"],
            &[],
        )
    }

    fn assert_no_token(&self, run: &Run) {
        let mut seen = format!("{}\n{}", run.stdout, run.stderr);
        for file in ["output", "summary"] {
            seen.push_str(&std::fs::read_to_string(self.dir.join(file)).unwrap_or_default());
        }
        seen.extend(self.github.comments(PR).into_iter().map(|c| c.body));
        assert!(!seen.contains(TOKEN), "the token leaked:\n{seen}");
    }

    fn outputs(&self) -> String {
        std::fs::read_to_string(self.dir.join("output")).unwrap_or_default()
    }

    fn ours(&self) -> Vec<github::Comment> {
        self.github
            .comments(PR)
            .into_iter()
            .filter(|c| c.login == BOT && c.body.starts_with(MARKER))
            .collect()
    }

    fn last_status(&self) -> github::Status {
        self.github.statuses().pop().expect("a commit status")
    }

    fn model_calls(&self) -> usize {
        self.model.requests().len()
    }
}

struct Options {
    tier: &'static str,
    policy: String,
}

fn cases() -> String {
    (0..4)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": format!("c{i}"), "vars": {"question": format!("question {i}")}, "assert": [{"type": "contains", "value": "correct"}]})
            )
        })
        .collect()
}

/// The line that approves `head`, as the verdict comment shows it.
fn approve(head: &str) -> String {
    format!("/promptgate approve {}", &head[..12])
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/github/events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// The lines of Markdown outside fenced code blocks (where GitHub renders mentions).
fn unfenced(markdown: &str) -> Vec<&str> {
    let mut fence: Option<String> = None;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let ticks: String = trimmed
            .chars()
            .take_while(|&c| c == '`' || c == '~')
            .collect();
        match &fence {
            Some(open) if trimmed.trim_end() == open.as_str() => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => lines.push(line),
        }
    }
    lines
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn a_council_change_waits_for_approval_then_passes_on_review_without_new_model_calls() {
    let pull = Pull::new();
    let run = pull.post();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let ours = pull.ours();
    assert_eq!(ours.len(), 1, "{:?}", pull.github.comments(PR));
    assert_contains(&ours[0].body, "needs sign-off");
    assert_contains(
        &ours[0].body,
        format!("```text\n{}\n```", approve(&pull.head)),
    );
    assert_contains(&ours[0].body, "promptgate check --pr 7");
    let status = pull.last_status();
    assert_eq!(
        (
            status.sha.as_str(),
            status.state.as_str(),
            status.context.as_str()
        ),
        (pull.head.as_str(), "pending", "promptgate")
    );
    assert!(status.description.chars().count() <= 140);
    assert_contains(&status.description, "needs-signoff");
    assert_eq!(
        status.target_url.as_deref(),
        Some("https://github.example/acme/prompts/actions/runs/4242")
    );
    let outputs = pull.outputs();
    assert_contains(&outputs, "verdict=needs-signoff\n");
    assert_contains(&outputs, "exit-code=3\n");
    let report = outputs
        .lines()
        .find_map(|l| l.strip_prefix("report="))
        .expect("report output");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(report).expect("report"))
        .expect("report.json");
    assert_eq!(json["pull_request"], 7);
    assert_eq!(json["approvals"]["missing"], 1);
    let summary = std::fs::read_to_string(pull.dir.join("summary")).expect("summary");
    assert_contains(&summary, "promptgate: needs sign-off");
    let calls = pull.model_calls();
    assert!(calls > 0);

    // alice approves the head commit: the review event re-runs the gate from the cache.
    pull.github
        .add_review(PR, "alice", "APPROVED", &pull.head, AFTER_HEAD);
    let run = pull.run(
        "pull_request_review",
        &pull.pull_event("pull_request_review.submitted.json"),
        &["--post"],
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        pull.model_calls(),
        calls,
        "a re-run must not call the model"
    );
    let now_ours = pull.ours();
    assert_eq!(now_ours.len(), 1);
    assert_eq!(
        now_ours[0].id, ours[0].id,
        "the comment is updated in place"
    );
    assert_contains(&now_ours[0].body, "promptgate: pass");
    assert_contains(&now_ours[0].body, "`alice`");
    assert_eq!(pull.last_status().state, "success");
    assert_contains(&pull.outputs(), "verdict=pass\n");
}

#[test]
fn approvals_that_must_not_count_do_not() {
    let pull = Pull::new();
    let gh = &pull.github;
    let base = pull.base.clone();
    gh.add_review(PR, "author", "APPROVED", &pull.head, AFTER_HEAD);
    gh.add_review(PR, "mallory", "APPROVED", &pull.head, AFTER_HEAD);
    gh.add_review(PR, "alice", "APPROVED", &base, BEFORE_HEAD);
    gh.add_review(PR, "bob", "APPROVED", &pull.head, AFTER_HEAD);
    gh.add_review(
        PR,
        "bob",
        "CHANGES_REQUESTED",
        &pull.head,
        "2026-01-02T10:00:00Z",
    );
    gh.add_comment(PR, "alice", "/promptgate approve", BEFORE_HEAD);
    gh.add_comment(PR, "mallory", "/promptgate approve", AFTER_HEAD);
    gh.add_comment(PR, "author", "/promptgate approve", AFTER_HEAD);
    gh.set_team_unreadable("acme", "prompt-council");
    let run = pull.post();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let body = &pull.ours()[0].body;
    for expected in [
        "author: the pull request",
        "alice: approved an older commit",
        &format!(
            "alice: `/promptgate approve` names no commit, so it does not count; to approve the head, comment `{}`",
            approve(&pull.head)
        ),
        "team membership could not be checked",
        "Members: read",
    ] {
        assert_contains(body, expected);
    }
    assert_eq!(pull.last_status().state, "pending");
}

#[test]
fn team_members_and_approve_comments_naming_the_head_count() {
    let pull = Pull::new();
    pull.github
        .set_membership("acme", "prompt-council", "carol", "active");
    pull.github
        .add_review(PR, "carol", "APPROVED", &pull.head, AFTER_HEAD);
    assert_eq!(pull.post().code, 0);
    assert_eq!(pull.last_status().state, "success");

    // Revoked by comment: back to pending. Approved again by comment: pass.
    pull.github
        .add_comment(PR, "carol", "/promptgate revoke", "2026-01-03T00:00:00Z");
    assert_eq!(pull.post().code, 3);
    pull.github
        .add_comment(PR, "carol", &approve(&pull.head), "2026-01-04T00:00:00Z");
    assert_eq!(pull.post().code, 0);
    assert_eq!(pull.ours().len(), 1);
}

#[test]
fn a_stale_approval_counts_only_when_the_base_config_allows_it() {
    let strict = Pull::new();
    strict
        .github
        .add_review(PR, "alice", "APPROVED", &strict.base, AFTER_HEAD);
    assert_eq!(strict.post().code, 3);
    let lenient = Pull::with(|o| o.policy = "\n[policy]\nallow_stale_approvals = true\n".into());
    lenient
        .github
        .add_review(PR, "alice", "APPROVED", &lenient.base, AFTER_HEAD);
    assert_eq!(lenient.post().code, 0);
}

/// The attack: an approver approves commit A by comment; the author then pushes B, dated
/// before the comment. The approval is A's; B needs its own.
#[test]
fn an_approve_comment_does_not_carry_over_to_a_backdated_head() {
    let pull = Pull::new();
    let a = pull.head.clone();
    pull.github
        .add_comment(PR, "alice", &approve(&a), AFTER_HEAD);
    let run = pull.post();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(pull.report()["approvals"]["approved_by"], json!(["alice"]));

    // Dated a day before alice's comment (and before A itself).
    let (b, event) = pull.push_dated_head(
        "Please answer very briefly.\nQ: {{ question }}\n",
        "2025-12-31T00:00:00Z",
    );
    let run = pull.run("pull_request", &event, &["--post"], &[]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let report = pull.report();
    assert_eq!(report["head"], json!(b));
    assert_eq!(report["approvals"]["approved_by"], json!([]));
    assert_eq!(report["approvals"]["missing"], 1);
    let why = format!(
        "alice: approves {}, not the head {}; to approve the head, comment `{}`",
        &a[..12],
        &b[..7],
        approve(&b)
    );
    assert_eq!(pull.not_counted(), std::slice::from_ref(&why));
    let body = &pull.ours()[0].body;
    assert_contains(body, &why);
    assert_contains(body, format!("```text\n{}\n```", approve(&b)));
    assert_eq!(pull.last_status().state, "pending");
    assert_eq!(pull.last_status().sha, b);

    // Approving B by its own line counts again.
    pull.github
        .add_comment(PR, "alice", &approve(&b), "2026-01-03T00:00:00Z");
    assert_eq!(pull.run("pull_request", &event, &["--post"], &[]).code, 0);
}

/// The other way to move an approval: anyone with write access may edit an approver's
/// comment to name the new head. An edited approve comment never counts.
#[test]
fn an_approve_comment_edited_to_name_a_new_head_does_not_count() {
    let pull = Pull::new();
    let id = pull
        .github
        .add_comment(PR, "alice", &approve(&pull.head), AFTER_HEAD);
    assert_eq!(pull.post().code, 0);
    let (b, event) = pull.push_dated_head(
        "Please answer very briefly.\nQ: {{ question }}\n",
        "2026-01-03T00:00:00Z",
    );
    pull.github
        .edit_comment(id, &approve(&b), "2026-01-03T01:00:00Z");
    let run = pull.run("pull_request", &event, &["--post"], &[]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let why = format!(
        "alice: the approve comment was edited after it was posted (anyone with write access can edit it), so it does not count; to approve the head, post a new comment `{}`",
        approve(&b)
    );
    assert_eq!(pull.not_counted(), std::slice::from_ref(&why));
    assert_contains(&pull.ours()[0].body, &why);
}

#[test]
fn an_approve_comment_names_at_least_seven_hex_digits_of_the_head() {
    let pull = Pull::new();
    let six = format!("/promptgate approve {}", &pull.head[..6]);
    pull.github.add_comment(PR, "alice", &six, AFTER_HEAD);
    assert_eq!(pull.post().code, 3);
    assert_eq!(
        pull.not_counted(),
        [format!(
            "alice: `{six}` names too few hex digits (at least 7), so it does not count; to approve the head, comment `{}`",
            approve(&pull.head)
        )]
    );
    // Seven digits, in capitals: the head.
    let seven = format!(
        "/promptgate approve {}",
        pull.head[..7].to_ascii_uppercase()
    );
    pull.github
        .add_comment(PR, "alice", &seven, "2026-01-03T00:00:00Z");
    let run = pull.post();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(pull.report()["approvals"]["approved_by"], json!(["alice"]));
    assert_eq!(pull.not_counted(), Vec::<String>::new());
}

#[test]
fn a_bare_approve_comment_never_counts_and_is_answered_with_the_line_to_post() {
    let pull = Pull::new();
    pull.github
        .add_comment(PR, "alice", "/promptgate approve", AFTER_HEAD);
    let run = pull.post();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let why = format!(
        "alice: `/promptgate approve` names no commit, so it does not count; to approve the head, comment `{}`",
        approve(&pull.head)
    );
    assert_eq!(pull.not_counted(), std::slice::from_ref(&why));
    let body = &pull.ours()[0].body;
    assert_contains(body, format!("Not counted:\n- {why}"));
    assert_contains(body, format!("```text\n{}\n```", approve(&pull.head)));
    assert_eq!(pull.last_status().state, "pending");
}

#[test]
fn a_revoke_comment_withdraws_an_approve_comment() {
    let pull = Pull::new();
    pull.github
        .add_comment(PR, "alice", &approve(&pull.head), AFTER_HEAD);
    assert_eq!(pull.post().code, 0);
    pull.github
        .add_comment(PR, "alice", "/promptgate revoke", "2026-01-03T00:00:00Z");
    let run = pull.post();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(pull.report()["approvals"]["approved_by"], json!([]));
    assert_eq!(pull.last_status().state, "pending");
}

/// With stale approvals allowed, a comment may name an earlier commit of the pull request
/// (as a review of it would count); the base's commits are not the pull request's.
#[test]
fn a_stale_approve_comment_counts_only_when_allowed_and_only_for_the_pull_requests_commits() {
    for (policy, names_base, expected) in [
        ("", false, 3),
        ("\n[policy]\nallow_stale_approvals = true\n", false, 0),
        ("\n[policy]\nallow_stale_approvals = true\n", true, 3),
    ] {
        let pull = Pull::with(|o| o.policy = policy.into());
        let named = if names_base { &pull.base } else { &pull.head };
        pull.github
            .add_comment(PR, "alice", &approve(named), AFTER_HEAD);
        let (_, event) = pull.push_dated_head(
            "Please answer very briefly.\nQ: {{ question }}\n",
            "2026-01-03T00:00:00Z",
        );
        let run = pull.run("pull_request", &event, &["--post"], &[]);
        assert_eq!(
            run.code, expected,
            "{policy} {names_base}: {}\n{}",
            run.stdout, run.stderr
        );
    }
}

#[test]
fn the_sticky_comment_is_found_on_any_page_and_duplicates_are_removed() {
    let pull = Pull::new();
    let gh = &pull.github;
    let forged = format!("{MARKER}\n## ✅ promptgate: pass (forged)");
    for i in 0..230 {
        gh.add_comment(PR, "someone", &format!("comment {i}"), BEFORE_HEAD);
    }
    let forged_id = gh.add_comment(PR, "mallory", &forged, BEFORE_HEAD);
    let first = gh.add_comment(PR, BOT, &format!("{MARKER}\nold verdict"), BEFORE_HEAD);
    let duplicate = gh.add_comment(PR, BOT, &format!("{MARKER}\nolder twin"), BEFORE_HEAD);
    let unrelated = gh.add_comment(PR, BOT, "a bot comment without the marker", BEFORE_HEAD);
    let run = pull.post();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let comments = gh.comments(PR);
    let ids: Vec<u64> = comments.iter().map(|c| c.id).collect();
    assert!(ids.contains(&first) && !ids.contains(&duplicate), "{ids:?}");
    assert!(ids.contains(&forged_id) && ids.contains(&unrelated));
    let find = |id: u64| comments.iter().find(|c| c.id == id).expect("comment");
    assert_eq!(
        find(forged_id).body,
        forged,
        "another user's comment is never edited"
    );
    assert_contains(&find(first).body, "needs sign-off");
    assert!(gh.requests_to("GET", "comments?per_page=100&page=3").len() == 1);
    assert!(gh
        .requests_to("PATCH", &format!("comments/{forged_id}"))
        .is_empty());
    assert!(gh.requests_to("POST", "/comments").is_empty());
}

#[test]
fn a_forged_marker_in_a_model_output_is_neutralised() {
    let pull = Pull::new();
    let event = pull.push_head("FORGE\nQ: {{ question }}\n");
    let run = pull.run("pull_request", &event, &["--post"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let comments = pull.github.comments(PR);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert_contains(body, "wrong, cc");
    assert_eq!(body.matches(MARKER).count(), 1, "{body}");
    assert!(body.starts_with(MARKER));
    assert!(
        unfenced(body).iter().all(|l| !l.contains("@acme")),
        "a mention outside a code block: {body}"
    );

    // The next run finds its own comment, not the forged text inside it.
    let run = pull.run("pull_request", &event, &["--post"], &[]);
    assert_eq!(run.code, 1);
    assert_eq!(pull.github.comments(PR).len(), 1);
}

#[test]
fn failed_posts_are_reported_with_the_fix_and_the_exit_code_stays_the_verdicts() {
    let pull = Pull::new();
    pull.github.fail_next(
        "POST",
        "/issues/7/comments",
        github::Reply::forbidden_integration(),
    );
    pull.github
        .fail_next("POST", "/statuses/", github::Reply::forbidden_integration());
    let run = pull.post();
    assert_eq!(run.code, 3, "the verdict's exit code: {}", run.stderr);
    assert_contains(&run.stderr, "Resource not accessible by integration");
    assert_contains(&run.stderr, "`pull-requests: write`");
    assert_contains(&run.stderr, "`statuses: write`");
    assert_contains(&run.stdout, "::error title=promptgate could not post::");
    assert!(pull.github.statuses().is_empty());
}

#[test]
fn server_errors_are_retried_and_rate_limits_reported() {
    let pull = Pull::new();
    pull.github
        .fail_next("POST", "/statuses/", github::Reply::server_error(502));
    let run = pull.post();
    assert_eq!(run.code, 3);
    assert_eq!(pull.last_status().state, "pending", "{}", run.stderr);
    assert_eq!(pull.github.requests_to("POST", "/statuses/").len(), 2);

    for _ in 0..3 {
        pull.github.fail_next(
            "PATCH",
            "/issues/comments/",
            github::Reply::server_error(503),
        );
        pull.github.fail_next(
            "POST",
            "/statuses/",
            github::Reply::rate_limited(4_000_000_000),
        );
    }
    // A new review changes the comment, so it is written again.
    pull.github
        .add_review(PR, "mallory", "APPROVED", &pull.head, AFTER_HEAD);
    let run = pull.post();
    assert_eq!(run.code, 3);
    assert_contains(&run.stderr, "GitHub failed 3 times");
    assert_contains(&run.stderr, "rate limited by GitHub");
    assert_eq!(
        run.stdout
            .matches("::error title=promptgate could not post")
            .count(),
        2
    );
}

#[test]
fn a_status_on_a_commit_github_does_not_know_is_reported() {
    let pull = Pull::new();
    pull.github.set_known_shas(&[&pull.base]);
    let run = pull.post();
    assert_eq!(run.code, 3);
    assert_contains(&run.stderr, "No commit found for SHA");
    assert_contains(&run.stderr, "push it first");
}

#[test]
fn an_approve_comment_re_runs_the_gate_for_the_pull_request_it_is_on() {
    let pull = Pull::new();
    let mut event = fixture("issue_comment.created.json");
    // The package's example comment is on an issue; a comment on a pull request differs
    // only by `issue.pull_request`.
    event["issue"]["number"] = json!(PR);
    event["issue"]["pull_request"] =
        json!({"url": "https://api.github.com/repos/acme/prompts/pulls/7"});
    pull.github
        .add_comment(PR, "alice", &approve(&pull.head), AFTER_HEAD);
    let run = pull.run("issue_comment", &event, &["--post"], &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!pull.github.requests_to("GET", "/pulls/7").is_empty());
    assert_eq!(pull.last_status().sha, pull.head);
}

#[test]
fn workflow_dispatch_and_push_events() {
    let pull = Pull::new();
    let mut dispatch = fixture("workflow_dispatch.json");
    dispatch["inputs"] = json!({"pr": "7"});
    let run = pull.run("workflow_dispatch", &dispatch, &["--format", "json"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(report["head"], json!(pull.head));

    let mut push = fixture("push.json");
    push["before"] = json!(pull.base);
    push["after"] = json!(pull.head);
    let run = pull.run("push", &push, &["--format", "json"], &[]);
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(report["merge_base"], json!(pull.base), "{}", run.stderr);
    assert_eq!(report["head"], json!(pull.head));
    assert!(report.get("pull_request").is_none());
}

#[test]
fn the_release_manager_gates_a_pull_request_by_number() {
    let pull = Pull::new();
    pull.github.add_token("ghp_releaseManagerToken123", "rm");
    let env = [
        ("GITHUB_TOKEN", "ghp_releaseManagerToken123"),
        ("GITHUB_EVENT_PATH", ""),
        ("GITHUB_ACTIONS", ""),
        ("GITHUB_REPOSITORY", ""),
    ];
    let event = json!({});
    let run = pull.run("", &event, &["--pr", "7", "--repo", REPO, "--post"], &env);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    // A user token posts as its user: that account's marked comment is the sticky one.
    assert_eq!(pull.github.comments(PR)[0].login, "rm");
    assert!(pull.outputs().is_empty(), "no step outputs outside Actions");

    // A head commit the clone does not have: exit 4 and the exact fetch.
    let mut missing = pull.pull_json(BODY);
    missing["number"] = json!(8);
    missing["head"]["sha"] = json!("9".repeat(40));
    pull.github.set_pull(8, missing);
    let run = pull.run("", &event, &["--pr", "8", "--repo", REPO], &env);
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    // Without an `origin` remote, the command names the repository's URL.
    assert_contains(
        &run.stdout,
        "git fetch https://github.example/acme/prompts.git pull/8/head",
    );
    pull.repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/prompts.git",
    ]);
    let run = pull.run("", &event, &["--pr", "8", "--repo", REPO], &env);
    assert_eq!(run.code, 4);
    assert_contains(&run.stdout, "git fetch origin pull/8/head");
}

#[test]
fn an_enterprise_api_root_keeps_its_prefix() {
    let pull = Pull::new();
    let api = pull.github.enterprise_url();
    let run = pull.run(
        "pull_request",
        &pull.pull_event("pull_request.opened.json"),
        &["--post"],
        &[("GITHUB_API_URL", &api)],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let requests = pull.github.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.path.starts_with("/api/v3/")),
        "{requests:#?}"
    );
}

#[test]
fn a_fork_without_secrets_is_an_error_that_says_why_never_a_pass() {
    let pull = Pull::new();
    let mut event = pull.pull_event("pull_request.opened.json");
    event["pull_request"]["head"]["repo"]["full_name"] = json!("outsider/prompts");
    let run = pull.run("pull_request", &event, &["--post"], &[(KEY_VAR, "")]);
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    let status = pull.last_status();
    assert_eq!(status.state, "error");
    assert_contains(&pull.ours()[0].body, "comes from a fork");
    assert_contains(&pull.outputs(), "verdict=error\n");
}

#[test]
fn prompt_files_behind_failed_rules_are_annotated() {
    let pull = Pull::new();
    let event = pull.push_head("FAIL\nQ: {{ question }}\n");
    let run = pull.run("pull_request", &event, &[], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_contains(
        &run.stdout,
        "::error file=prompts/answer.md,title=promptgate%3A surface support::",
    );
}

/// GitHub's own OpenAPI description (trimmed), with the comment list's example holding two
/// verdict comments by the example user, so the run updates one and removes the other.
fn contract_spec(dir: &Path) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/github/openapi.json");
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("openapi.json")).expect("JSON");
    let items = &mut spec["components"]["examples"]["issue-comment-items"]["value"];
    let mut twin = items[0].clone();
    items[0]["body"] = json!(format!("{MARKER}\nold verdict"));
    twin["id"] = json!(2);
    twin["body"] = json!(format!("{MARKER}\nduplicate"));
    items.as_array_mut().expect("comment items").push(twin);
    let out = dir.join("openapi.json");
    std::fs::write(&out, spec.to_string()).expect("write spec");
    out
}

/// Every request promptgate sends is validated by Prism against GitHub's description: an
/// invalid path, parameter, header or body would be answered 4xx and reported as a failed
/// post.
#[test]
fn every_request_matches_githubs_openapi_description() {
    let pull = Pull::with(|o| o.policy = "\n[policy]\nallow_stale_approvals = true\n".into());
    let prism = prism::Prism::serving(&contract_spec(&pull.dir));
    let api = prism.url();
    let env = [("GITHUB_API_URL", api.as_str())];
    let event = pull.pull_event("pull_request.opened.json");
    // The example user (octocat) approved an older commit, allowed here, and the teams API
    // confirms the membership: pass. Comment 1 is updated, its twin 2 removed, a status set.
    let run = pull.run("pull_request", &event, &["--post"], &env);
    assert_eq!(
        run.code,
        0,
        "{}\n{}\n{}",
        run.stdout,
        run.stderr,
        prism.log()
    );
    assert!(
        !run.stderr.contains("GitHub: cannot"),
        "{}\n{}",
        run.stderr,
        prism.log()
    );
    // Another login: no comment is ours, so one is created.
    let login = [
        ("GITHUB_API_URL", api.as_str()),
        ("PROMPTGATE_GITHUB_LOGIN", "promptgate-bot"),
    ];
    let run = pull.run("pull_request", &event, &["--post"], &login);
    assert!(
        !run.stderr.contains("GitHub: cannot"),
        "{}\n{}",
        run.stderr,
        prism.log()
    );
    assert_contains(&run.stderr, "verdict comment written");
    // The release manager's read of a pull request (whose example commits are not local).
    let run = pull.run(
        "",
        &json!({}),
        &["--pr", "1347", "--repo", "octocat/Hello-World"],
        &env,
    );
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert_contains(&run.stdout, "pull/1347/head");
    let log = prism.log();
    for request in [
        "GET /user",
        "GET /repos/acme/prompts/issues/7/comments",
        "GET /repos/acme/prompts/pulls/7/reviews",
        "GET /orgs/acme/teams/prompt-council/memberships/octocat",
        "PATCH /repos/acme/prompts/issues/comments/1",
        "DELETE /repos/acme/prompts/issues/comments/2",
        "POST /repos/acme/prompts/issues/7/comments",
        "POST /repos/acme/prompts/statuses/",
        "GET /repos/octocat/Hello-World/pulls/1347",
    ] {
        assert_contains(&log.to_ascii_uppercase(), request.to_ascii_uppercase());
    }
    assert!(!log.contains("Violation"), "{log}");
}

#[test]
fn the_pull_request_description_supplies_the_artifacts() {
    let pull = Pull::new();
    let mut event = pull.pull_event("pull_request.opened.json");
    event["pull_request"]["body"] =
        json!("## Expected user impact\nShorter answers.\n\n## Rollback plan\nTBD\n");
    let run = pull.run("pull_request", &event, &["--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    let artifacts = report["artifacts"].as_array().expect("artifacts");
    let found =
        |name: &str| artifacts.iter().find(|a| a["name"] == name).expect(name)["found"].clone();
    assert_eq!(
        (found("impact"), found("rollback")),
        (json!(true), json!(false))
    );
}

#[test]
fn a_repository_the_token_cannot_see_and_a_missing_token_are_explained() {
    let pull = Pull::new();
    pull.github.restrict_repos(&["acme/other"]);
    let run = pull.post();
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_contains(&run.stderr, "404");
    assert_contains(
        &run.stderr,
        "check the repository (--repo or GITHUB_REPOSITORY)",
    );
    assert_contains(&run.stdout, "approvals could not be read, so none count");

    let run = pull.run(
        "pull_request",
        &pull.pull_event("pull_request.opened.json"),
        &["--post"],
        &[("GITHUB_TOKEN", "")],
    );
    assert_contains(&run.stderr, "no token: set GITHUB_TOKEN");
}
