//! Attacks on the ledger's readers: forged and garbage notes under `refs/notes/promptgate`
//! (anyone who can push a notes ref writes them; `model_reported` comes from a provider's
//! answer) read by the real `review`, against real repositories with dated commits. Each
//! must be skipped with a warning naming the commit or used harmlessly: no panic, no number
//! outside its range shown as a measurement, no Markdown link or workflow command injected.

mod common;
#[path = "common/http.rs"]
mod http;

use common::TestRepo;
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";
const DAY: i64 = 86_400;

/// A server that always answers correctly (only reached if the review measures a commit).
fn server() -> Server {
    Server::start(|_| Reply::openai("correct"))
}

/// A repository with one surface and two commits: one two weeks back, one today.
fn two_weeks(server: &Server) -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    let config = format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n",
        server.url
    );
    let cases: String = ["c0", "c1"]
        .iter()
        .map(|id| format!("{}\n", json!({"id": id, "vars": {"question": "q"}, "assert": [{"type": "contains", "value": "correct"}]})))
        .collect();
    repo.write("promptgate.toml", config)
        .write("prompts/answer.md", "Q: {{ question }}\n")
        .write("evals/support.jsonl", cases)
        .write("docs/notes.md", "one\n")
        .write(".gitignore", ".promptgate/\n");
    let old = repo.commit_at("start", common::now() - 14 * DAY);
    repo.write("docs/notes.md", "two\n");
    let new = repo.commit_at("notes", common::now() - 60);
    (repo, old, new)
}

/// An eval entry for `support` at `commit`, with `changes` merged over its fields.
fn entry(commit: &str, changes: Value) -> Value {
    let mut entry = json!({
        "schema_version": 1, "run_id": "forged", "kind": "eval",
        "recorded_at": "2026-01-01T00:00:00Z", "commit": commit, "surface": "support",
        "provider": "main", "model": "gpt-4o-mini", "cases": 2, "passed": 2,
        "pass_rate": 1.0, "ci_low": 0.34, "ci_high": 1.0, "failed": [],
        "suite": "s".repeat(64), "prompt": "p".repeat(64)
    });
    for (key, value) in changes.as_object().expect("object") {
        entry[key] = value.clone();
    }
    entry
}

/// Replaces `commit`'s ledger note with `lines`.
fn note(repo: &TestRepo, commit: &str, lines: &[String]) {
    let file = repo.path().join(".git").join("forged-note");
    std::fs::write(&file, lines.join("\n")).expect("write note");
    let file = file.display().to_string();
    repo.git(&[
        "notes",
        "--ref=promptgate",
        "add",
        "-f",
        "-F",
        &file,
        commit,
    ]);
}

fn review(repo: &TestRepo, format: &str) -> common::Run {
    common::run_with_env(
        repo.path(),
        &["review", "--no-fetch", "--weeks", "4", "--format", format],
        &[(KEY_VAR, "sk-test")],
    )
}

/// Every line of `output` that a GitHub Actions runner would read as a workflow command
/// (it trims leading whitespace before looking for `::`).
fn workflow_commands(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| line.trim_start().starts_with("::"))
        .collect()
}

#[test]
fn a_forged_kind_cannot_inject_a_workflow_command_through_the_warning() {
    let server = server();
    let (repo, old, new) = two_weeks(&server);
    note(&repo, &old, &[entry(&old, json!({})).to_string()]);
    let forged = entry(
        &new,
        json!({"kind": "eval\n::error title=promptgate::forged failure"}),
    );
    note(&repo, &new, &[forged.to_string()]);
    let run = review(&repo, "text");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stderr, &new[..12]);
    assert_eq!(
        workflow_commands(&run.stderr),
        Vec::<&str>::new(),
        "{}",
        run.stderr
    );
    assert_eq!(workflow_commands(&run.stdout), Vec::<&str>::new());
}

#[test]
fn numbers_outside_their_range_are_skipped_with_a_warning_not_shown_as_measured() {
    let server = server();
    let (repo, old, new) = two_weeks(&server);
    note(&repo, &old, &[entry(&old, json!({})).to_string()]);
    let forged = [
        json!({"pass_rate": 5.0, "ci_low": 4.0, "ci_high": 6.0}),
        json!({"pass_rate": -1.0, "ci_low": -1.0, "ci_high": -1.0}),
        json!({"passed": 9, "cases": 2, "pass_rate": 1.0}),
        json!({"pass_rate": 1e308, "ci_low": 0.5, "ci_high": 1.0}),
        json!({"tail_pass_rate": 7.5}),
        json!({"ci_low": 0.9, "ci_high": 0.1, "pass_rate": 0.5, "passed": 1}),
    ];
    let lines: Vec<String> = forged
        .iter()
        .map(|c| entry(&new, c.clone()).to_string())
        .collect();
    note(&repo, &new, &lines);
    let run = review(&repo, "json");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let review: Value = serde_json::from_str(&run.stdout).expect("review JSON");
    let points = &review["surfaces"][0]["headline"]["points"];
    let last = points.as_array().and_then(|p| p.last()).expect("points");
    assert!(
        last.is_null(),
        "a forged number was shown as this week's: {last}"
    );
    let warned = run
        .stderr
        .lines()
        .filter(|l| l.contains(&new[..12]))
        .count();
    assert_eq!(warned, forged.len(), "{}", run.stderr);
}

#[test]
fn huge_counts_do_not_overflow_the_drift_test() {
    let server = server();
    let (repo, old, new) = two_weeks(&server);
    let max = u64::MAX;
    note(
        &repo,
        &old,
        &[entry(&old, json!({"cases": max, "passed": max})).to_string()],
    );
    note(
        &repo,
        &new,
        &[entry(&new, json!({"cases": max, "passed": max, "pass_rate": 1.0})).to_string()],
    );
    let run = review(&repo, "json");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn garbage_notes_are_skipped_naming_the_commit() {
    let server = server();
    let (repo, old, new) = two_weeks(&server);
    note(&repo, &old, &[entry(&old, json!({})).to_string()]);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = format!(
        "{{\"schema_version\":1,\"x\":\"{}\"}}",
        "a".repeat(2_000_000)
    );
    let lines = vec![
        deep,
        huge,
        entry(&new, json!({"cases": -3})).to_string(),
        entry(&new, json!({"pass_rate": "NaN"})).to_string(),
        "{\"schema_version\":1,\"pass_rate\":NaN}".to_string(),
        entry(&new, json!({"kind": "gate", "base": old, "head": old, "verdict": "pass", "tier": "self"})).to_string(),
        entry(&new, json!({"kind": "experiment", "hypothesis": "h", "current": {"provider": "main", "model": "m", "pass_rate": 1.0, "ci_low": 0.0, "ci_high": 1.0}, "mcnemar_p": 1.0, "verdict": "better"})).to_string(),
    ];
    note(&repo, &new, &lines);
    for format in ["text", "markdown", "json"] {
        let run = review(&repo, format);
        assert_eq!(run.code, 0, "{format}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        common::assert_contains(&run.stderr, &new[..12]);
    }
}

#[test]
fn a_model_name_or_case_id_from_the_ledger_cannot_become_a_markdown_link() {
    let server = server();
    let (repo, old, new) = two_weeks(&server);
    let link = "[sign in again](https://evil.example/login)";
    let image = "![x](https://evil.example/pixel.png)";
    note(
        &repo,
        &old,
        &[entry(&old, json!({"model_reported": "gpt-4o-mini"})).to_string()],
    );
    note(
        &repo,
        &new,
        &[entry(
            &new,
            json!({"model_reported": image, "failed": [link], "passed": 1, "pass_rate": 0.5, "ci_low": 0.09, "ci_high": 0.91}),
        )
        .to_string()],
    );
    let run = review(&repo, "markdown");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Inside a code span the text is inert; anywhere else its brackets must be escaped.
    let outside_code: String = run
        .stdout
        .split('`')
        .step_by(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !outside_code.contains("](https://evil.example"),
        "a live link in:\n{}",
        run.stdout
    );
}

/// A server that answers every request correctly and records them.
fn recording() -> Server {
    Server::start(|_| Reply::openai("correct"))
}

fn compare_config(main: &str, candidate: &str, key_var: &str) -> String {
    format!(
        "[gate]\nrepeat = 1\n\n\
         [provider.main]\nkind = \"openai\"\nbase_url = \"{main}/v1\"\nmodel = \"gpt-a\"\napi_key_env = \"{key_var}\"\n\n\
         [provider.candidate]\nkind = \"openai\"\nbase_url = \"{candidate}/v1\"\nmodel = \"gpt-b\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n"
    )
}

fn compare_cases(extra: &str) -> String {
    let mut cases: String = (0..4)
        .map(|i| format!("{}\n", json!({"id": format!("c{i}"), "vars": {"question": format!("q{i}")}, "assert": [{"type": "contains", "value": "correct"}]})))
        .collect();
    cases.push_str(extra);
    cases
}

/// A repository (nothing committed yet) whose config, prompt and cases send every call to
/// `server`.
fn surface_on(server: &Server) -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        "promptgate.toml",
        compare_config(&server.url, &server.url, KEY_VAR),
    )
    .write("prompts/answer.md", "Q: {{ question }}\n")
    .write("evals/support.jsonl", compare_cases(""))
    .write(".gitignore", ".promptgate/\n");
    repo
}

/// A default branch whose providers all point at `trusted`, and a `feature` branch checked
/// out from it for the attack to write on.
fn feature_branch_of(trusted: &Server) -> TestRepo {
    let repo = surface_on(trusted);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

fn compare_run(repo: &TestRepo, rev: &str, env: &[(&str, &str)]) -> common::Run {
    common::run_with_env(
        repo.path(),
        &[
            "compare",
            "--surface",
            "support",
            "--provider",
            "candidate",
            "--rev",
            rev,
            "--format",
            "json",
            "--no-cache",
        ],
        env,
    )
}

#[test]
fn a_branch_cannot_reroute_the_current_provider_swap_its_key_or_run_a_grader_in_compare() {
    let trusted = recording();
    let attacker = recording();
    let repo = feature_branch_of(&trusted);
    let marker = repo.path().join("grader-ran");
    let grader = format!(
        "{}\n",
        json!({"id": "sneaky", "vars": {"question": "q"}, "assert": [{"type": "exec", "value": ["sh", "-c", format!("touch {}", marker.display())]}]})
    );
    repo.write(
        "promptgate.toml",
        compare_config(&attacker.url, &attacker.url, "PG_OTHER_SECRET"),
    );
    repo.commit("faster servers");
    let env = [(KEY_VAR, "sk-test"), ("PG_OTHER_SECRET", "sk-other-secret")];
    let run = compare_run(&repo, "feature", &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        attacker.requests().is_empty(),
        "the branch's server was called"
    );
    assert!(!trusted.requests().is_empty(), "nothing was measured");
    assert!(
        trusted
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer sk-test")),
        "the branch chose which secret was sent"
    );
    // A grader the branch adds is a command the default branch never chose: it does not run.
    repo.write("evals/support.jsonl", compare_cases(&grader));
    repo.commit("a stricter grader");
    let calls = trusted.requests().len();
    let run = compare_run(&repo, "feature", &env);
    assert!(!marker.exists(), "the branch's grader ran");
    assert!(
        ![0, 101].contains(&run.code),
        "{}{}",
        run.stdout,
        run.stderr
    );
    common::assert_contains(&run.stderr, "runs no command");
    assert_eq!(
        trusted.requests().len(),
        calls,
        "a refused comparison made calls"
    );
    assert!(attacker.requests().is_empty());
}

#[test]
fn compare_where_the_default_branch_has_no_config_calls_nothing_the_branch_wrote() {
    let attacker = recording();
    let repo = TestRepo::new();
    repo.write("README.md", "hello\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "promptgate.toml",
        compare_config(&attacker.url, &attacker.url, KEY_VAR),
    )
    .write("prompts/answer.md", "Q: {{ question }}\n")
    .write("evals/support.jsonl", compare_cases(""));
    repo.commit("add promptgate");
    let run = compare_run(&repo, "feature", &[(KEY_VAR, "sk-test")]);
    assert!(
        ![0, 101].contains(&run.code),
        "{}{}",
        run.stdout,
        run.stderr
    );
    common::assert_contains(&run.stderr, "the default branch (main) has no config");
    assert!(
        attacker.requests().is_empty(),
        "the branch's server was called"
    );
}

#[test]
fn changelog_and_review_windows_that_make_no_sense_fail_or_say_so_without_panicking() {
    let server = server();
    let (repo, _old, _new) = two_weeks(&server);
    let env = [(KEY_VAR, "sk-test")];
    for args in [
        vec!["changelog", "--since", "x y"],
        vec!["changelog", "--since", "999999999d"],
        vec!["changelog", "--since", "-5d"],
        vec![
            "changelog",
            "--since",
            "2026-12-31",
            "--until",
            "2020-01-01",
        ],
        vec!["changelog", "--since", "9999-99-99"],
        vec!["changelog", "--until", "HEAD~999"],
        vec!["review", "--no-fetch", "--weeks", "104"],
        vec!["review", "--no-fetch", "--weeks", "0"],
        vec!["review", "--no-fetch", "--weeks", "999999999"],
    ] {
        let run = common::run_with_env(repo.path(), &args, &env);
        assert!(
            [0, 2, 3, 4].contains(&run.code) && !run.stderr.contains("panicked"),
            "{args:?}: {}\n{}{}",
            run.code,
            run.stdout,
            run.stderr
        );
    }
    let empty = TestRepo::new();
    for args in [
        vec!["changelog"],
        vec!["review", "--no-fetch"],
        vec!["record"],
    ] {
        let run = common::run_with_env(empty.path(), &args, &env);
        assert!(
            run.code != 101 && !run.stderr.contains("panicked"),
            "{args:?}: {}\n{}{}",
            run.code,
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn record_measures_the_default_branch_never_a_branch_with_its_own_servers_and_commands() {
    let trusted = recording();
    let attacker = recording();
    let repo = feature_branch_of(&trusted);
    let marker = repo.path().join("provider-ran");
    let exec = format!(
        "\n[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"touch {}; echo correct\"]\n",
        marker.display()
    );
    repo.write(
        "promptgate.toml",
        compare_config(&attacker.url, &attacker.url, "PG_OTHER_SECRET") + exec.as_str(),
    );
    let feature = repo.commit("my own servers");
    let env = [(KEY_VAR, "sk-test"), ("PG_OTHER_SECRET", "sk-other-secret")];
    for args in [vec!["record"], vec!["record", "--rev", "feature"]] {
        let run = common::run_with_env(repo.path(), &args, &env);
        assert!(
            ![0, 101].contains(&run.code),
            "{args:?}: {}{}",
            run.stdout,
            run.stderr
        );
        common::assert_contains(&run.stderr, "not on the default branch");
    }
    assert!(
        attacker.requests().is_empty(),
        "the branch's server was called"
    );
    assert!(!marker.exists());
    assert!(
        !common::git_succeeds(
            repo.path(),
            &["notes", "--ref=promptgate", "show", &feature]
        ),
        "a branch's own measurement went into the ledger"
    );
    // The default branch itself still records, from a checkout of the branch too.
    let run = common::run_with_env(repo.path(), &["record", "--rev", "main"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!trusted.requests().is_empty());
}

#[test]
fn an_entry_naming_another_commit_is_skipped_and_bad_bytes_do_not_hide_the_note() {
    let server = server();
    let (repo, old, new) = two_weeks(&server);
    note(&repo, &old, &[entry(&old, json!({})).to_string()]);
    // Copied from another commit, and a gate whose head is elsewhere: neither is this one's.
    let gate = entry(
        &new,
        json!({"kind": "gate", "base": old, "head": old, "verdict": "pass", "tier": "self"}),
    );
    note(
        &repo,
        &new,
        &[
            entry(&old, json!({"pass_rate": 0.5, "passed": 1})).to_string(),
            gate.to_string(),
        ],
    );
    let run = review(&repo, "json");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let review_json: Value = serde_json::from_str(&run.stdout).expect("review JSON");
    let points = review_json["surfaces"][0]["headline"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(points.last().is_some_and(Value::is_null), "{points:?}");
    assert_eq!(
        run.stderr.matches(&format!("names commit {old}")).count(),
        2,
        "{}",
        run.stderr
    );

    // A note with a byte that is not UTF-8 still gives its good lines, and warns of the bad.
    let good = entry(&new, json!({"pass_rate": 0.5, "passed": 1})).to_string();
    let file = repo.path().join(".git").join("bad-note");
    let mut bytes = b"{\"schema_version\":1,\"kind\":\"eval\xff\"}\n".to_vec();
    bytes.extend_from_slice(good.as_bytes());
    std::fs::write(&file, bytes).expect("write");
    let file = file.display().to_string();
    repo.git(&["notes", "--ref=promptgate", "add", "-f", "-F", &file, &new]);
    let run = review(&repo, "json");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let review_json: Value = serde_json::from_str(&run.stdout).expect("review JSON");
    let last = review_json["surfaces"][0]["headline"]["points"]
        .as_array()
        .and_then(|p| p.last().cloned())
        .unwrap_or_default();
    assert_eq!(last["value"], 0.5, "{}", run.stderr);
    common::assert_contains(
        &run.stderr,
        format!("ledger note of {}, line 1", &new[..12]),
    );
}

#[test]
fn record_on_a_root_commit_an_octopus_merge_a_shallow_clone_and_a_rejecting_remote() {
    let server = recording();
    let repo = surface_on(&server);
    repo.commit("root");
    let env = [(KEY_VAR, "sk-test")];
    // The root commit: no first parent, so an eval entry and no gate.
    let run = common::run_with_env(repo.path(), &["record"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stdout, "recorded 1 entry");
    // An octopus merge of two prompt branches: gated against its first parent only.
    for (branch, path) in [("a", "prompts/answer.md"), ("b", "docs/b.md")] {
        repo.git(&["checkout", "-q", "-b", branch, "main"]);
        repo.write(path, "A: {{ question }}\n");
        repo.commit(branch);
    }
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--no-ff", "-m", "octopus", "a", "b"]);
    let run = common::run_with_env(repo.path(), &["record", "--backfill", "3"], &env);
    assert!([0, 4].contains(&run.code), "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // A shallow clone: the tip's first parent is missing.
    let shallow = common::shallow_clone(repo.path(), "main");
    let run = common::run_with_env(&shallow, &["record", "--backfill", "4"], &env);
    assert!(
        run.code != 101 && !run.stderr.contains("panicked"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // A remote that rejects the notes ref: the push fails, and says so.
    let bare = common::bare_clone(repo.path());
    let hook = bare.join("hooks").join("pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'notes are protected' >&2\nexit 1\n").expect("hook");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let clone = common::tempdir();
    common::git_in(&clone, &["clone", "-q", &bare.display().to_string(), "."]);
    let run = common::run_with_env(&clone, &["record", "--push"], &env);
    assert!(
        ![0, 101].contains(&run.code),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("pushed refs/notes"), "{}", run.stdout);
    assert!(
        !common::git_succeeds(&bare, &["notes", "--ref=promptgate", "list"])
            || common::git_in(&bare, &["notes", "--ref=promptgate", "list"]).is_empty()
    );
}

/// The cells of a Markdown table row as GitHub splits them: at every pipe not escaped with a
/// backslash, code spans or not.
fn cells(row: &str) -> usize {
    let mut count: usize = 0;
    let mut escaped = false;
    for c in row.chars() {
        if c == '|' && !escaped {
            count += 1;
        }
        escaped = c == '\\' && !escaped;
    }
    count.saturating_sub(1)
}

#[test]
fn a_case_id_with_pipes_cannot_add_cells_to_the_changelog_or_review_tables() {
    let server = recording();
    let repo = surface_on(&server);
    let old = repo.commit_at("base", common::now() - 3 * DAY);
    repo.write("prompts/answer.md", "Answer: {{ question }}\n");
    let new = repo.commit_at(
        "Reword the prompt [sign in](https://evil.example/login)",
        common::now() - DAY,
    );
    let forged = "x| [sign in](https://evil.example/login) |";
    let gate = entry(
        &new,
        json!({"kind": "gate", "base": old, "head": new, "verdict": "pass", "tier": "self",
               "regressions": [forged], "model": "gpt|b", "failed": [forged],
               "passed": 1, "pass_rate": 0.5, "ci_low": 0.1, "ci_high": 0.9}),
    );
    let eval = entry(
        &new,
        json!({"failed": [forged], "passed": 1, "pass_rate": 0.5, "ci_low": 0.1, "ci_high": 0.9, "model": "gpt|b"}),
    );
    note(&repo, &new, &[eval.to_string(), gate.to_string()]);
    let env = [(KEY_VAR, "sk-test")];
    for args in [
        vec!["changelog", "--format", "markdown", "--since", "7d"],
        vec!["review", "--no-fetch", "--format", "markdown"],
    ] {
        let run = common::run_with_env(repo.path(), &args, &env);
        assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
        let rows: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('|')).collect();
        assert!(!rows.is_empty(), "{args:?}: no table in\n{}", run.stdout);
        let header = cells(rows[0]);
        for row in &rows {
            assert_eq!(
                cells(row),
                header,
                "{args:?}: a row with extra cells: {row}"
            );
        }
    }
}

#[test]
fn a_forged_experiment_cannot_start_a_workflow_command_in_the_experiments_list() {
    let server = server();
    let (repo, _old, new) = two_weeks(&server);
    let side = json!({"provider": "main", "model": "gpt-a", "pass_rate": 0.5, "ci_low": 0.1, "ci_high": 0.9});
    let experiment = |changes: Value| {
        let mut facts = json!({"kind": "experiment", "hypothesis": "h", "current": side, "candidate": side, "mcnemar_p": 1.0, "verdict": "better"});
        for (key, value) in changes.as_object().expect("object") {
            facts[key] = value.clone();
        }
        entry(&new, facts).to_string()
    };
    note(
        &repo,
        &new,
        &[
            experiment(json!({"recorded_at": "::error::forged failure, see the hypothesis"})),
            experiment(json!({"recorded_at": "\n::error::x"})),
            experiment(
                json!({"hypothesis": "cheaper?\n::warning::forged", "candidate": {"provider": "c", "model": "m\r\n::error::m", "pass_rate": 0.5, "ci_low": 0.1, "ci_high": 0.9}}),
            ),
        ],
    );
    let run = common::run_in(repo.path(), &["experiments", "--no-fetch"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        workflow_commands(&run.stdout),
        Vec::<&str>::new(),
        "{}",
        run.stdout
    );
    assert_eq!(
        workflow_commands(&run.stderr),
        Vec::<&str>::new(),
        "{}",
        run.stderr
    );
    // The well-dated one is listed, its line breaks escaped.
    common::assert_contains(&run.stdout, "cheaper?\\n::warning::forged");
}
