//! The ledger, end to end: `promptgate record` on a real repository against a local model
//! server writes one JSON line per gated surface to `refs/notes/promptgate` (readable with
//! plain git), appends on every run (cache first), and records nothing for a surface it
//! could not measure. When the recorded commit's first-parent change touched a surface (a
//! merged pull request), a `gate` entry per surface follows with the gate's facts.

mod common;
#[path = "common/http.rs"]
mod http;

use common::TestRepo;
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";

fn repo(server: &Server) -> TestRepo {
    repo_with(&format!(
        "[provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.5\n\n\
         [[surface]]\nname = \"docs\"\nprompts = [\"docs/*.md\"]\ntier = \"self\"\ngate = false\n",
        server.url
    ))
}

/// A repository with `config`, a prompt, ten cases (the first two hard) and a docs file.
fn repo_with(config: &str) -> TestRepo {
    let repo = TestRepo::new();
    let cases: String = (0..10)
        .map(|i| {
            let word = if i < 2 { "hard" } else { "easy" };
            format!(
                "{}\n",
                json!({"id": format!("c{i}"), "difficulty": i, "vars": {"question": format!("{word} question {i}")}, "assert": [{"type": "contains", "value": "correct", "metric": "accuracy"}]})
            )
        })
        .collect();
    repo.write("promptgate.toml", config)
        .write("prompts/answer.md", "Q: {{ question }}\n")
        .write("docs/readme.md", "docs\n")
        .write("evals/support.jsonl", cases)
        .write(".gitignore", ".promptgate/cache\n");
    repo.commit("base");
    repo
}

/// A server that fails the hard questions.
fn server() -> Server {
    Server::start(|request| {
        Reply::openai(if request.prompt().contains("hard") {
            "wrong"
        } else {
            "correct"
        })
    })
}

fn record(repo: &TestRepo) -> common::Run {
    common::run_with_env(repo.path(), &["record"], &[(KEY_VAR, "sk-test")])
}

fn ledger(repo: &TestRepo) -> Vec<Value> {
    repo.git(&["notes", "--ref=promptgate", "show", "HEAD"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn record_writes_one_entry_per_gated_surface_readable_with_git() {
    let server = server();
    let repo = repo(&server);
    let run = record(&repo);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stdout, "recorded 1 entry");
    let entries = ledger(&repo);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = &entries[0];
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(entry["schema_version"], 1);
    assert_eq!(entry["kind"], "eval");
    assert_eq!(entry["commit"], head.as_str());
    assert_eq!(entry["surface"], "support");
    assert_eq!(entry["model"], "gpt-4o-mini");
    // What the answers named, so a silent provider update shows.
    assert_eq!(entry["model_reported"], "test-model");
    assert_eq!(
        (entry["cases"].as_u64(), entry["passed"].as_u64()),
        (Some(10), Some(8))
    );
    assert_eq!(entry["pass_rate"], 0.8);
    assert!(entry["ci_low"].as_f64() < Some(0.8) && entry["ci_high"].as_f64() > Some(0.8));
    assert_eq!(entry["failed"], json!(["c0", "c1"]));
    // The hardest case (difficulty 9) passes.
    assert_eq!(entry["tail_pass_rate"], 1.0);
    assert_eq!(entry["metrics"]["accuracy"], 0.8);
    assert_eq!(entry["suite"].as_str().map(str::len), Some(64));
    assert_eq!(entry["prompt"].as_str().map(str::len), Some(64));
    assert!(entry["recorded_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
}

#[test]
fn every_record_appends_and_a_rerun_comes_from_the_cache() {
    let server = server();
    let repo = repo(&server);
    assert_eq!(record(&repo).code, 0);
    let calls = server.requests().len();
    assert_eq!(record(&repo).code, 0);
    assert_eq!(server.requests().len(), calls, "a cached record made calls");
    let entries = ledger(&repo);
    assert_eq!(entries.len(), 2);
    assert_ne!(entries[0]["run_id"], entries[1]["run_id"]);
}

#[test]
fn a_surface_that_could_not_be_measured_is_not_recorded() {
    let server = Server::start(|_| Reply::json(400, json!({"error": {"message": "bad request"}})));
    let repo = repo(&server);
    let run = record(&repo);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stderr, "nothing was recorded for it");
    assert!(!common::git_succeeds(
        repo.path(),
        &["notes", "--ref=promptgate", "show", "HEAD"]
    ));
}

/// Commits `message` with both dates `days_ago` days before now.
fn commit_dated(repo: &TestRepo, message: &str, days_ago: i64) -> String {
    repo.commit_at(message, common::now() - days_ago * 86_400)
}

fn entries_on(dir: &std::path::Path, commit: &str) -> usize {
    let output = common::git_command(dir, &["notes", "--ref=promptgate", "show", commit])
        .output()
        .expect("git notes");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn backfill_records_the_last_commit_of_each_week_and_invents_none() {
    let server = server();
    let repo = TestRepo::new();
    let seed = self::repo(&server);
    // The same files, committed over five weeks: two commits four weeks back, none three.
    for path in [
        "promptgate.toml",
        "prompts/answer.md",
        "docs/readme.md",
        "evals/support.jsonl",
        ".gitignore",
    ] {
        let text = std::fs::read(seed.path().join(path)).expect("read");
        repo.write(path, text);
    }
    let four_early = commit_dated(&repo, "four weeks back, early", 29);
    let four_late = commit_dated(&repo, "four weeks back, late", 28);
    repo.write("docs/readme.md", "two\n");
    let two = commit_dated(&repo, "two weeks back", 14);
    repo.write("docs/readme.md", "one\n");
    let one = commit_dated(&repo, "one week back", 7);
    repo.write("docs/readme.md", "now\n");
    let now = commit_dated(&repo, "this week", 0);
    let run = common::run_with_env(
        repo.path(),
        &["record", "--backfill", "6"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for (commit, expected) in [
        (&now, 1),
        (&one, 1),
        (&two, 1),
        (&four_late, 1),
        (&four_early, 0),
    ] {
        assert_eq!(
            entries_on(repo.path(), commit),
            expected,
            "{commit}\n{}",
            run.stdout
        );
    }
}

#[test]
fn two_recorders_pushing_at_once_both_land() {
    let server = server();
    let origin = repo(&server);
    let bare = common::bare_clone(origin.path());
    let clones: Vec<std::path::PathBuf> = (0..2)
        .map(|_| {
            let clone = common::tempdir();
            common::git_in(&clone, &["clone", "-q", &bare.display().to_string(), "."]);
            clone
        })
        .collect();
    let head = common::git_in(&clones[0], &["rev-parse", "HEAD"]);
    let rounds = 3;
    for _ in 0..rounds {
        std::thread::scope(|scope| {
            let runs: Vec<_> = clones
                .iter()
                .map(|clone| {
                    scope.spawn(move || {
                        common::run_with_env(clone, &["record", "--push"], &[(KEY_VAR, "sk-test")])
                    })
                })
                .collect();
            for run in runs {
                let run = run.join().expect("recorder");
                assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
            }
        });
    }
    // Every entry of every run landed on the remote: none was lost to a concurrent push.
    assert_eq!(entries_on(&bare, &head), 2 * rounds);
}

/// A council-tier surface that must pass 70% of its cases, judged on one round of trials.
fn council_repo(server: &Server) -> TestRepo {
    repo_with(&format!(
        "[gate]\nmax_repeat = 1\n\n\
         [provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"council\"\nmin_pass_rate = 0.7\nmax_drop = 0.05\n\n\
         [[surface]]\nname = \"docs\"\nprompts = [\"docs/*.md\"]\ntier = \"self\"\ngate = false\n\n\
         [tier.council]\napprovers = [\"alice\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n",
        server.url
    ))
}

/// Fails the hard questions, and under a terse tone questions 2 and 3 as well.
fn tone_server() -> Server {
    Server::start(|request| {
        let prompt = request.prompt();
        let terse = prompt.contains("Be terse")
            && (prompt.contains("question 2") || prompt.contains("question 3"));
        Reply::openai(if prompt.contains("hard") || terse {
            "wrong"
        } else {
            "correct"
        })
    })
}

/// The tone change: the prompt made terse, with its change record.
fn change_tone(repo: &TestRepo) {
    repo.write("prompts/answer.md", "Be terse.\nQ: {{ question }}\n")
        .write(
            ".promptgate/changes/tone.md",
            "# Terse tone\n\n## Expected user impact\nShorter answers.\n\n## Rollback plan\nRevert the merge.\n",
        );
}

fn gate_entries(entries: &[Value]) -> Vec<&Value> {
    entries.iter().filter(|e| e["kind"] == "gate").collect()
}

#[test]
fn a_merged_pull_request_gets_a_gate_entry_with_its_number_and_regressions() {
    let server = tone_server();
    let repo = council_repo(&server);
    repo.git(&["checkout", "-q", "-b", "tone"]);
    change_tone(&repo);
    repo.commit("Terse tone");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("README.md", "meanwhile on main\n");
    let first_parent = repo.commit("Unrelated");
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "tone",
        "-m",
        "Merge pull request #7 from acme/tone\n\nTerse tone",
    ]);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = record(&repo);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::assert_contains(
        &run.stdout,
        format!(
            "{} gate (#7) support: blocked, council, 2 regressions",
            &head[..7]
        ),
    );
    common::assert_contains(&run.stdout, "recorded 2 entries");
    // The head's answers came from the evaluation's cache: each prompt was asked once.
    let calls = server.requests().len();
    assert_eq!(calls, 20, "the gate asked the head's questions again");
    let entries = ledger(&repo);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let (eval, gate) = (&entries[0], gate_entries(&entries)[0]);
    assert_eq!(eval["kind"], "eval");
    assert_eq!(gate["commit"], head.as_str());
    assert_eq!(gate["surface"], "support");
    assert_eq!(gate["base"], first_parent.as_str());
    assert_eq!(gate["head"], head.as_str());
    assert_eq!(gate["pr"], 7);
    assert_eq!(gate["verdict"], "blocked");
    assert_eq!(gate["tier"], "council");
    assert_eq!(gate["approved_by"], json!([]));
    assert_eq!(gate["regressions"], json!(["c2", "c3"]));
    assert_eq!(gate["fixes"], json!([]));
    assert_eq!(gate["impact"], "Shorter answers.");
    assert_eq!(gate["rollback"], "Revert the merge.");
    // The head side's measurement, with the eval entry's meaning.
    for field in [
        "cases",
        "passed",
        "pass_rate",
        "ci_low",
        "ci_high",
        "tail_pass_rate",
        "metrics",
        "failed",
        "flaky",
        "suite",
        "prompt",
        "model",
        "model_reported",
        "provider",
        "run_id",
    ] {
        assert_eq!(gate[field], eval[field], "{field}");
    }
    assert_eq!(gate["failed"], json!(["c0", "c1", "c2", "c3"]));
    assert_eq!(gate["model_reported"], "test-model");
    // The base side's measurement, for the changelog's base → head.
    assert_eq!(gate["base_side"]["pass_rate"], 0.8);
    assert_eq!(gate["base_side"]["model"], "gpt-4o-mini");
    assert_eq!(gate["base_side"]["model_reported"], "test-model");
    assert!(gate["base_side"]["ci_low"].as_f64() < Some(0.8));
    // A rerun is answered from the cache, gate included.
    let rerun = record(&repo);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    assert_eq!(server.requests().len(), calls, "a cached record made calls");
    assert_eq!(gate_entries(&ledger(&repo)).len(), 2);
}

#[test]
fn a_squash_merge_names_its_pull_request_and_a_change_to_no_surface_gets_no_gate() {
    let server = tone_server();
    let repo = council_repo(&server);
    change_tone(&repo);
    let squash = repo.commit("Terse tone (#8)\n\n* wip");
    let run = record(&repo);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let entries = ledger(&repo);
    let gates = gate_entries(&entries);
    assert_eq!(gates.len(), 1, "{entries:#?}");
    assert_eq!(gates[0]["pr"], 8);
    assert_eq!(gates[0]["head"], squash.as_str());
    assert_eq!(gates[0]["base"], repo.git(&["rev-parse", "HEAD^"]).as_str());
    // Neither a file no surface maps nor an ungated surface's change gets a gate entry.
    repo.write("README.md", "notes\n")
        .write("docs/readme.md", "more docs\n");
    repo.commit("Docs (#9)");
    let run = record(&repo);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains(" gate"), "{}", run.stdout);
    let entries = ledger(&repo);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["kind"], "eval");
}

#[test]
fn backfill_gates_each_weeks_commit_against_its_first_parent() {
    let server = tone_server();
    let repo = council_repo(&server);
    change_tone(&repo);
    let last_week = commit_dated(&repo, "Terse tone (#8)", 7);
    repo.write("README.md", "this week\n");
    commit_dated(&repo, "Readme", 0);
    let run = common::run_with_env(
        repo.path(),
        &["record", "--backfill", "2"],
        &[(KEY_VAR, "sk-test")],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let notes = repo.git(&["notes", "--ref=promptgate", "show", &last_week]);
    let kinds: Vec<Value> = notes
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("entry")["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("eval"), json!("gate")], "{}", run.stdout);
    assert_eq!(entries_on(repo.path(), "HEAD"), 1);
}

#[test]
fn a_gate_that_ends_in_error_is_recorded_only_when_the_head_was_measured() {
    // The base's prompt cannot be answered: the gate fails closed, the head is whole.
    let server = Server::start(|request| {
        let prompt = request.prompt();
        if !prompt.contains("Be terse") {
            return Reply::json(400, json!({"error": {"message": "bad request"}}));
        }
        let fails = prompt.contains("hard") || prompt.contains("question 2");
        Reply::openai(if fails { "wrong" } else { "correct" })
    });
    let repo = council_repo(&server);
    change_tone(&repo);
    repo.commit("Terse tone (#8)");
    let run = record(&repo);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stdout, "gate (#8) support: error, council");
    let entries = ledger(&repo);
    let gates = gate_entries(&entries);
    assert_eq!(gates.len(), 1, "{entries:#?}");
    assert_eq!(
        (gates[0]["verdict"].clone(), gates[0]["passed"].clone()),
        (json!("error"), json!(7))
    );
    // Now the head cannot be answered either: neither its eval nor its gate is recorded.
    repo.write("prompts/answer.md", "Q: {{ question }}\n");
    repo.commit("Plain tone (#9)");
    let run = record(&repo);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    common::assert_contains(&run.stderr, "no gate entry was recorded");
    assert!(!common::git_succeeds(
        repo.path(),
        &["notes", "--ref=promptgate", "show", "HEAD"]
    ));
}
