//! Templates a change controls, through every command that reads them: odd delimiters
//! (`{%}`) are template errors at file:line, never a panic; runaway loops run out of fuel
//! with the template, the case and the fix named; a variable missing in an included partial
//! is blamed on the partial's line. Real git repositories, the real binary, an exec
//! provider that answers every case.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_contains, TestRepo};
use serde_json::Value;

const CONFIG: &str = "[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"cat >/dev/null; echo 'yes, in 5 days'\"]\n\n\
     [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"self\"\nmin_pass_rate = 0.5\n";

const CASES: &str = "{\"id\": \"refund\", \"vars\": {\"q\": \"refund?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n{\"id\": \"when\", \"vars\": {\"q\": \"when?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n";

const PROMPT: &str =
    "You answer support questions.\n{% include \"partials/tone.md\" %}\nQ: {{ q }}\n";
const PARTIAL: &str = "Be kind.\n";

/// Nested loops of ten billion steps in all.
const RUNAWAY: &str = "Intro\n{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}\nQ: {{ q }}\n";

/// Longer than any of these commands takes with the fix, even on a loaded machine; only
/// there so that a regression fails instead of hanging the suite.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// A repository whose `main` has a valid surface (prompt, partial, cases).
fn surface() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", CONFIG)
        .write("prompts/answer.md", PROMPT)
        .write("partials/tone.md", PARTIAL)
        .write("evals/support.jsonl", CASES);
    repo.commit("surface");
    repo
}

/// `surface()` with a `feature` branch that commits `files`.
fn feature(files: &[(&str, &str)]) -> TestRepo {
    let repo = surface();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    for (path, content) in files {
        repo.write(path, content);
    }
    repo.commit("feature");
    repo
}

/// Runs promptgate in `dir`, killed (and the test failed) after [`HANG_GUARD`].
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(common::BIN);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if ["PROMPTGATE_", "GITHUB_", "RUNNER_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name.as_ref());
        }
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promptgate");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("promptgate {args:?} did not finish within {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `check --base main` as JSON: (exit code, report).
fn check(repo: &TestRepo) -> (i32, Value) {
    let (code, stdout, stderr) = run(
        repo.path(),
        &["check", "--base", "main", "--format", "json"],
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (code, report)
}

#[track_caller]
fn assert_no_panic(code: i32, stderr: &str) {
    assert_ne!(code, 101, "promptgate panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn percent_brace_is_a_template_error_at_its_line_in_validate_and_eval() {
    for (path, content, line) in [
        ("prompts/answer.md", "Hello {%} there\nQ: {{ q }}\n", 1),
        ("partials/tone.md", "Be kind.\n\nand {%}\n", 3),
    ] {
        let repo = surface();
        repo.write(path, content);
        // `validate` reads the working tree, `eval` the commit.
        repo.commit("broken");
        for command in ["validate", "eval"] {
            let (code, _, stderr) = run(repo.path(), &[command]);
            assert_no_panic(code, &stderr);
            assert_eq!(code, 5, "{command}: {stderr}");
            assert_contains(&stderr, format!("error: {path}:{line}: syntax error"));
        }
    }
}

#[test]
fn percent_brace_in_a_partial_is_listed_by_diff_and_stops_the_pre_commit_hook() {
    let repo = feature(&[("partials/tone.md", "Be kind {%} always.\n")]);
    let (code, stdout, stderr) = run(repo.path(), &["diff", "--base", "main", "--format", "json"]);
    assert_no_panic(code, &stderr);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("diff JSON");
    let change = common::change(&json, "partials/tone.md");
    assert_eq!(change["via"], "include");
    assert_eq!(change["surfaces"], serde_json::json!(["support"]));

    let (code, _, stderr) = run(repo.path(), &["hook", "install", "--pre-commit"]);
    assert_eq!(code, 0, "{stderr}");
    repo.write(
        "prompts/answer.md",
        "Hi {%}\n{% include \"partials/tone.md\" %}\nQ: {{ q }}\n",
    );
    repo.git(&["add", "-A"]);
    let output = git_with_promptgate(repo.path(), &["commit", "-q", "-m", "broken"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the commit went through: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_contains(&stderr, "prompts/answer.md:1: syntax error");
}

#[test]
fn check_blocks_a_head_with_percent_brace() {
    let repo = feature(&[("partials/tone.md", "Be kind {%} always.\n")]);
    let (code, report) = check(&repo);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report:#}"
    );
    assert_contains(&report.to_string(), "partials/tone.md:1: syntax error");
}

#[test]
fn runaway_loops_run_out_of_fuel_naming_template_case_and_fix() {
    let repo = surface();
    repo.write("prompts/answer.md", RUNAWAY);
    let (code, _, stderr) = run(repo.path(), &["validate"]);
    assert_no_panic(code, &stderr);
    assert_eq!(code, 5, "{stderr}");
    assert_contains(
        &stderr,
        "error: prompts/answer.md:2: rendering template `prompts/answer.md` for case `refund` of evals/support.jsonl:1 ran out of fuel",
    );
    assert_contains(
        &stderr,
        "help: a render may run about 5 million template instructions",
    );
    // One case is enough to know; the others are not made to burn the budget again.
    assert!(!stderr.contains("case `when`"), "{stderr}");
}

#[test]
fn runaway_loops_in_a_partial_block_check() {
    let repo = feature(&[(
        "partials/tone.md",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}\n",
    )]);
    let (code, report) = check(&repo);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report:#}"
    );
    let reasons = report["reasons"].to_string();
    assert_contains(
        &reasons,
        "partials/tone.md:1: rendering template `prompts/answer.md` for case `refund`",
    );
    assert_contains(&reasons, "ran out of fuel");
}

#[test]
fn a_variable_missing_in_a_partial_is_blamed_on_the_partials_line() {
    let repo = surface();
    repo.write(
        "partials/tone.md",
        "Be kind.\n\nSign as {{ agent_name }}.\n",
    );
    let (code, _, stderr) = run(repo.path(), &["validate"]);
    assert_eq!(code, 5, "{stderr}");
    assert_contains(
        &stderr,
        "error: evals/support.jsonl:1: template `partials/tone.md:3`, included by `prompts/answer.md`, uses variable `agent_name`, which cases `refund`, `when` do not define",
    );
    // The entry's own variables keep naming the entry.
    let repo = surface();
    repo.write("prompts/answer.md", format!("{PROMPT}{{{{ locale }}}}\n"));
    let (code, _, stderr) = run(repo.path(), &["validate"]);
    assert_eq!(code, 5, "{stderr}");
    assert_contains(
        &stderr,
        "template `prompts/answer.md` uses variable `locale`, which cases `refund`, `when` do not define",
    );
}

/// git with promptgate first on PATH, as the installed hooks need; does not assert success.
fn git_with_promptgate(dir: &Path, args: &[&str]) -> Output {
    let bin_dir = Path::new(common::BIN)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    common::git_command(dir, args)
        .env("PATH", path)
        .env_remove("PROMPTGATE_CONFIG")
        .output()
        .expect("git")
}
