//! `promptgate drill` on real temp repositories with several prompt versions, against a
//! local OpenAI-compatible server: passing and failing drills, bad input, the untouched
//! working tree, `--status`, the gate's overdue note, and a snapshot of `drill.md`.

mod common;
#[path = "common/http.rs"]
mod http;

use common::{assert_contains, TestRepo};
use http::{Reply, Server};
use serde_json::Value;

const KEY_VAR: &str = "PG_TEST_KEY";

/// Answers correctly unless the prompt says "terse".
fn server() -> Server {
    Server::start(|request| {
        let prompt = request.prompt();
        Reply::openai(if prompt.contains("terse") {
            "no"
        } else {
            "Refunds take 5 days."
        })
    })
}

fn config(server: &Server, extra_surface: &str, extra: &str) -> String {
    format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.9\n{extra_surface}\n{extra}",
        server.url
    )
}

const CASES: &str = "{\"id\": \"a\", \"vars\": {\"q\": \"refund?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n{\"id\": \"b\", \"vars\": {\"q\": \"how long?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n";

const PLAN: &str = "# Kinder answers\n\n## Expected user impact\nWarmer tone.\n\n## Rollback plan\nRevert the prompt commit and redeploy the support worker; no data to migrate.\n";

/// v1: the surface; v2: a reworded prompt with a change record (its rollback plan as given).
fn history(server: &Server, plan: &str) -> TestRepo {
    history_with(server, plan, "")
}

/// As [`history`], with more keys on the surface from the start.
fn history_with(server: &Server, plan: &str, surface_keys: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("README.md", "product\n");
    repo.commit("before the surface");
    repo.write("promptgate.toml", config(server, surface_keys, ""))
        .write("prompts/answer.md", "Answer: {{ q }}\n")
        .write("evals/support.jsonl", CASES);
    repo.commit("v1");
    repo.write("prompts/answer.md", "Answer kindly: {{ q }}\n")
        .write(".promptgate/changes/kinder.md", plan);
    repo.commit("v2");
    repo
}

fn drill(repo: &TestRepo, args: &[&str]) -> common::Run {
    let mut all = vec!["drill"];
    all.extend_from_slice(args);
    common::run_with_env(repo.path(), &all, &[(KEY_VAR, "sk-test")])
}

fn report(repo: &TestRepo) -> Value {
    let text =
        std::fs::read_to_string(repo.path().join("drill-out/drill.json")).expect("drill.json");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn a_drill_with_a_plan_and_a_healthy_rollback_passes_and_leaves_the_repo_as_it_was() {
    let server = server();
    let repo = history(&server, PLAN);
    // Uncommitted work must survive byte for byte.
    repo.write("prompts/answer.md", "Work in progress: {{ q }}\n")
        .write("notes.txt", "untracked\n");
    repo.git(&["add", "notes.txt"]);
    let index_before = std::fs::read(repo.path().join(".git/index")).expect("index");
    let v1 = repo.git(&["rev-parse", "HEAD~1"]);
    let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = report(&repo);
    assert_eq!(report["outcome"], "pass");
    assert_eq!(report["to"], v1);
    assert_eq!(report["plan_found"], true);
    assert_eq!(report["plan_source"], ".promptgate/changes/kinder.md");
    assert_eq!(report["eval"]["pass_rate"], 1.0);
    assert_eq!(
        report["restored_files"],
        serde_json::json!(["prompts/answer.md"])
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("prompts/answer.md")).expect("read"),
        "Work in progress: {{ q }}\n"
    );
    assert_eq!(
        std::fs::read(repo.path().join(".git/index")).expect("index"),
        index_before
    );
    assert_eq!(
        repo.git(&["worktree", "list"]).lines().count(),
        1,
        "the temporary worktree is gone"
    );
    let records: Vec<_> = std::fs::read_dir(repo.path().join(".promptgate/drills"))
        .expect("records")
        .collect();
    assert_eq!(records.len(), 1);
    // The server saw the rolled-back prompt, not the working tree's.
    assert!(server
        .requests()
        .iter()
        .all(|r| r.body.contains("Answer: ") && !r.body.contains("Work in progress")));
}

#[test]
fn the_drill_shows_the_section_the_artifact_check_accepted() {
    // One section finder for both: the drill used to print the first heading that merely
    // contained "rollback", whatever the check had accepted.
    let server = server();
    let cases = [
        (
            "an unfilled duplicate before the written one",
            "## Rollback plan\nTBD\n\n## Rollback\nRevert the prompt commit.\n",
        ),
        (
            "a heading that only contains the name",
            "## Rollback considerations\nFeature flags were ruled out.\n\n## Rollback plan\nRevert the prompt commit.\n",
        ),
    ];
    for (what, plan) in cases {
        let repo = history(&server, plan);
        let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
        assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        let report = report(&repo);
        assert_eq!(report["plan_found"], true, "{what}");
        assert_eq!(report["plan"], "Revert the prompt commit.", "{what}");
    }
}

#[test]
fn a_missing_or_placeholder_plan_fails_the_drill() {
    let server = server();
    let repo = history(
        &server,
        "## Expected user impact\nWarmer.\n\n## Rollback plan\nTBD\n",
    );
    let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(report(&repo)["plan_found"], false);
    assert_contains(&run.stdout, "placeholder");
}

#[test]
fn a_rolled_back_version_below_threshold_fails() {
    let server = server();
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(&server, "", ""))
        .write("prompts/answer.md", "Be terse: {{ q }}\n")
        .write("evals/support.jsonl", CASES);
    repo.commit("v1 (bad)");
    repo.write("prompts/answer.md", "Answer: {{ q }}\n")
        .write(".promptgate/changes/fix.md", PLAN);
    repo.commit("v2 (fixed)");
    let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_contains(&run.stdout, "min_pass_rate");
}

#[test]
fn the_drill_command_runs_with_the_target_revision_and_its_failure_fails_the_drill() {
    let server = server();
    let flip = "drill_command = [\"sh\", \"-c\", \"test -n \\\"$PROMPTGATE_DRILL_TARGET\\\" && echo flipped to $PROMPTGATE_DRILL_TARGET\"]";
    let repo = history_with(&server, PLAN, flip);
    let v1 = repo.git(&["rev-parse", "HEAD~1"]);
    let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        report(&repo)["command"]["output"],
        format!("flipped to {v1}")
    );
    let repo = history_with(
        &server,
        PLAN,
        "drill_command = [\"sh\", \"-c\", \"exit 3\"]",
    );
    let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
    assert_eq!(run.code, 1);
    assert_eq!(report(&repo)["command"]["exit_code"], 3);
}

#[test]
fn bad_input_is_named() {
    let server = server();
    let repo = history(&server, PLAN);
    let run = drill(&repo, &["--surface", "nope"]);
    assert_eq!(run.code, 5);
    assert_contains(&run.stderr, "unknown surface `nope`");
    // The version before the surface existed cannot be a target.
    let first = repo.git(&["rev-list", "--max-parents=0", "HEAD"]);
    let run = drill(&repo, &["--surface", "support", "--to", &first]);
    assert_eq!(run.code, 4);
    assert_contains(&run.stderr, "does not exist at");
    // A surface that never changed has nothing to roll back to.
    let fresh = TestRepo::new();
    fresh
        .write("promptgate.toml", config(&server, "", ""))
        .write("prompts/answer.md", "A {{ q }}\n")
        .write("evals/support.jsonl", CASES);
    fresh.commit("only version");
    let run = drill(&fresh, &["--surface", "support"]);
    assert_eq!(run.code, 4);
    assert_contains(&run.stderr, "no earlier version");
}

#[test]
fn status_lists_surfaces_and_check_notes_overdue_drills() {
    let server = server();
    let repo = history(&server, PLAN);
    let run = common::run_in(repo.path(), &["drill", "--status"]);
    // Overdue: a scheduled `drill --status` fails (exit 1) until the drill runs.
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("support") && l.contains("never") && l.ends_with("yes")),
        "{}",
        run.stdout
    );
    assert_eq!(drill(&repo, &["--surface", "support"]).code, 0);
    let run = common::run_in(repo.path(), &["drill", "--status"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("support") && l.contains("pass") && l.ends_with("no")),
        "{}",
        run.stdout
    );

    // The gate notes an overdue drill, or blocks on it when the policy says so.
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/answer.md", "Answer warmly: {{ q }}\n");
    repo.commit("warmer");
    let check = |repo: &TestRepo| -> Value {
        let run = common::run_with_env(
            repo.path(),
            &["check", "--base", "main", "--format", "json"],
            &[(KEY_VAR, "k")],
        );
        serde_json::from_str(&run.stdout).expect("json")
    };
    let report = check(&repo);
    assert_eq!(report["verdict"], "pass", "{report:#}");
    assert_contains(
        &report["notes"].to_string(),
        "never passed a rollback drill",
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.write(
        "promptgate.toml",
        config(&server, "", "[drill]\noverdue = \"block\"\n"),
    );
    repo.commit("drills block");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    let report = check(&repo);
    assert_eq!(report["verdict"], "blocked", "{report:#}");
}

#[test]
fn drill_md_snapshot() {
    let server = server();
    let repo = history(&server, PLAN);
    let run = drill(&repo, &["--surface", "support", "--out", "drill-out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(repo.path().join("drill-out/drill.md")).expect("drill.md");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[sha]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}", "[date]");
    settings.add_filter(r"\d+\.\d+s", "[secs]");
    settings.add_filter(r"\| \d+\.\d+ \|", "| [secs] |");
    settings.bind(|| insta::assert_snapshot!(md));
}

#[test]
fn an_interrupted_drill_removes_its_worktree() {
    let server = server();
    let dir = common::tempdir();
    let (pid_file, stopped_file) = (dir.join("command.pid"), dir.join("command.stopped"));
    // The command notes that it was stopped (SIGTERM) in a file the test can see.
    let script = format!(
        "trap 'echo stopped > {}; exit 0' TERM; echo $$ > {}.tmp; mv {}.tmp {}; sleep 30 & wait",
        stopped_file.display(),
        pid_file.display(),
        pid_file.display(),
        pid_file.display()
    );
    let command = format!(
        "drill_command = [\"sh\", \"-c\", {}]",
        serde_json::Value::from(script)
    );
    let repo = history_with(&server, PLAN, &command);
    let mut child = std::process::Command::new(common::BIN)
        .args(["drill", "--surface", "support"])
        .current_dir(repo.path())
        .env(KEY_VAR, "k")
        .env("HOME", repo.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn drill");
    // Wait (bounded) until the drill command runs, then interrupt the drill.
    let mut waited = 0;
    while !pid_file.exists() && waited < 200 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    // Let the drill record the command it started (a signal in the microseconds between
    // spawning and recording it would miss the command).
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        repo.git(&["worktree", "list"]).lines().count(),
        2,
        "the drill never created its worktree"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert_eq!(exit.code(), Some(130));
    assert_eq!(
        repo.git(&["worktree", "list"]).lines().count(),
        1,
        "the worktree survived the interrupt"
    );
    let mut polls = 0;
    while !stopped_file.exists() && polls < 100 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        polls += 1;
    }
    assert!(
        stopped_file.exists(),
        "the drill command outlived the interrupted drill"
    );
}
