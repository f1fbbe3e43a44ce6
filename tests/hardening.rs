//! Hardening after the red-team review: templates nested too deep for the engine are
//! diagnostics (never a stack overflow), `diff` prints no raw control characters from the
//! repository, and `merge` pairs shard results by surface name and refuses shards that
//! disagree.

mod common;

use common::{assert_contains, TestRepo};
use serde_json::{json, Value};

/// Two gated surfaces answered by a local command that says "ok" (unless told to say no),
/// each with four cases
/// expecting "ok", on `main`; then a `feature` branch.
fn two_surfaces() -> TestRepo {
    let repo = TestRepo::new();
    let mut config = String::from(
        "[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"if grep -q 'Say no'; then echo nope; else echo ok; fi\"]\n\n",
    );
    for name in ["alpha", "beta"] {
        config.push_str(&format!(
            "[[surface]]\nname = \"{name}\"\nprompts = [\"prompts/{name}.md\"]\ncases = \"evals/{name}.jsonl\"\nprovider = \"local\"\ntier = \"self\"\nmin_pass_rate = 0.5\n\n"
        ));
        repo.write(&format!("prompts/{name}.md"), "Say ok: {{ question }}\n")
            .write(
                &format!("evals/{name}.jsonl"),
                (0..4)
                    .map(|i| format!("{}\n", json!({"id": format!("{name}-{i}"), "vars": {"question": format!("q{i}")}, "assert": [{"type": "contains", "value": "ok"}]})))
                    .collect::<String>(),
            );
    }
    repo.write(".gitignore", ".promptgate/\nshard*/\n")
        .write("promptgate.toml", config);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

const DEPTH: usize = 100_000;

/// 100,000-long chains of filters, `~`, attribute accesses and `not`s, 10,000 `elif`s, and
/// a deep chain in an included partial, overflowed the engine's recursive parser or
/// compiler (exit 134, no output).
#[test]
fn deep_expressions_are_diagnostics_in_validate() {
    for (chain, what) in [
        (
            format!("{{{{ question{} }}}}", "|upper".repeat(DEPTH)),
            "filters",
        ),
        (
            format!("{{{{ question{} }}}}", " ~ question".repeat(DEPTH)),
            "concatenations",
        ),
        (
            format!("{{{{ question{} }}}}", ".a".repeat(DEPTH)),
            "attributes",
        ),
        (
            format!("{{{{ {}question }}}}", "not ".repeat(DEPTH)),
            "negations",
        ),
    ] {
        let repo = two_surfaces();
        repo.write(
            "prompts/alpha.md",
            format!("Say ok: {{{{ question }}}}\n{chain}\n"),
        );
        let run = repo.run(&["validate"]);
        assert_eq!(run.code, 5, "{what}: {}", run.stderr);
        assert_contains(
            &run.stderr,
            "prompts/alpha.md:2: syntax error: this tag nests more than 500 levels deep",
        );
    }
    // 10,000 `elif`s nest as deep as 10,000 `if`s in the engine's parser.
    let repo = two_surfaces();
    repo.write(
        "prompts/alpha.md",
        format!(
            "Say ok: {{{{ question }}}}\n{{% if question %}}a{}{{% endif %}}\n",
            "{% elif question %}b".repeat(10_000)
        ),
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_contains(
        &run.stderr,
        "prompts/alpha.md:2: syntax error: `if` statements nest more than 300 levels deep",
    );
    // Through an include, reported at the partial's own line.
    let repo = two_surfaces();
    repo.write(
        "prompts/alpha.md",
        "Say ok: {{ question }}\n{% include 'partials/deep.md' %}\n",
    )
    .write(
        "partials/deep.md",
        format!("\n\n{{{{ question{} }}}}\n", "|upper".repeat(DEPTH)),
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_contains(
        &run.stderr,
        "partials/deep.md:3: syntax error: this tag nests",
    );
}

/// In `check`, a head prompt nested too deep blocks the change at its line.
#[test]
fn a_deep_head_prompt_is_blocked_in_check() {
    let repo = two_surfaces();
    repo.write(
        "prompts/alpha.md",
        format!("Say ok: {{{{ question{} }}}}\n", "|upper".repeat(DEPTH)),
    );
    repo.commit("deep");
    let run = repo.run(&["check", "--base", "main", "--format", "json"]);
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("exit {}: {e}: {}{}", run.code, run.stdout, run.stderr));
    assert_eq!(report["verdict"], "blocked", "{report:#}");
    assert_eq!(run.code, 1);
    assert_contains(&report.to_string(), "prompts/alpha.md:1");
}

/// A case id with a newline put a GitHub Actions workflow command on a line of its own in
/// `diff`'s text and Markdown output.
#[test]
fn diff_escapes_control_characters_from_the_repository() {
    let repo = two_surfaces();
    let forged = "c9\n::warning title=promptgate::all checks passed\r::error::x";
    let mut cases = std::fs::read_to_string(repo.path().join("evals/alpha.jsonl")).unwrap();
    cases.push_str(&format!(
        "{}\n",
        json!({"id": forged, "vars": {"question": "q"}, "assert": [{"type": "contains", "value": "ok"}]})
    ));
    repo.write("evals/alpha.jsonl", cases).write(
        "prompts/beta.md",
        "Say ok:\r::notice::forged {{ question }}\n",
    );
    repo.commit("forged id");
    for format in ["text", "markdown"] {
        let run = repo.run(&["diff", "--base", "main", "--format", format]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for line in run.stdout.split(['\n', '\r']) {
            assert!(
                !line.trim_start().starts_with("::"),
                "{format}: a workflow command line: {line:?}\n{}",
                run.stdout
            );
        }
        assert_contains(&run.stdout, "c9\\n::warning");
    }
}

/// Runs `check --shard K/2 --out shardK` for both shards and returns the shard files.
fn shards(repo: &TestRepo) -> Vec<(std::path::PathBuf, Value)> {
    (1..=2)
        .map(|k| {
            let dir = repo.path().join(format!("shard{k}"));
            let run = repo.run(&[
                "check",
                "--base",
                "main",
                "--shard",
                &format!("{k}/2"),
                "--out",
                &dir.display().to_string(),
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            let file = dir.join("shard.json");
            let json = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            (file, json)
        })
        .collect()
}

fn merge(repo: &TestRepo) -> common::Run {
    repo.run(&["merge", "--format", "json", "shard1", "shard2"])
}

/// Shard inputs are paired by surface name, not by position.
#[test]
fn merge_pairs_surfaces_by_name() {
    let repo = two_surfaces();
    // alpha fails every case on the head, beta none: joining one's cases into the other's
    // changes both verdicts.
    repo.write("prompts/alpha.md", "Say no: {{ question }}\n")
        .write("prompts/beta.md", "Say ok, {{ question }}\n");
    repo.commit("alpha says no");
    let single = repo.run(&["check", "--base", "main", "--format", "json"]);
    let single: Value = serde_json::from_str(&single.stdout).unwrap();
    assert_eq!(single["verdict"], "blocked", "{single:#}");
    assert_eq!(single["surfaces"].as_array().map(Vec::len), Some(2));
    let files = shards(&repo);
    let (file, mut second) = files[1].clone();
    second["inputs"].as_array_mut().unwrap().reverse();
    std::fs::write(&file, second.to_string()).unwrap();
    let run = merge(&repo);
    let merged: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    assert_eq!(merged["verdict"], single["verdict"]);
    for (m, s) in merged["surfaces"]
        .as_array()
        .unwrap()
        .iter()
        .zip(single["surfaces"].as_array().unwrap())
    {
        for field in ["name", "base", "head", "regressions", "rules"] {
            assert_eq!(m[field], s[field], "{field}");
        }
    }
}

/// Shards that judge different surfaces, or whose contexts disagree, are refused (exit
/// 2); errors and blockers one shard met are kept.
#[test]
fn merge_refuses_shards_that_disagree_and_keeps_every_error() {
    let repo = two_surfaces();
    repo.write("prompts/alpha.md", "Say ok, {{ question }}\n")
        .write("prompts/beta.md", "Say ok, {{ question }}\n");
    repo.commit("edit");
    let files = shards(&repo);
    let (file, second) = files[1].clone();
    let tamper = |edit: &dyn Fn(&mut Value)| {
        let mut json = second.clone();
        edit(&mut json);
        std::fs::write(&file, json.to_string()).unwrap();
        merge(&repo)
    };
    let run = tamper(&|j| j["inputs"][1]["name"] = json!("gamma"));
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_contains(&run.stderr, "disagree on the surfaces");
    let run = tamper(&|j| {
        j["inputs"].as_array_mut().unwrap().pop();
    });
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let run = tamper(&|j| j["inputs"][0]["gated"] = json!(false));
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_contains(&run.stderr, "disagree on surface `alpha` (`gated` differs)");
    let run = tamper(&|j| j["context"]["tier"] = json!("exec"));
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_contains(&run.stderr, "`tier` differs");
    let run = tamper(&|j| {
        j["context"]["errors"] = json!(["the provider failed in shard 2"]);
        j["context"]["blockers"] = json!(["prompts/beta.md:1: broken in shard 2"]);
    });
    let merged: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    assert_eq!(merged["verdict"], "error", "{merged:#}");
    assert_eq!(run.code, 4);
    assert_contains(
        &merged["reasons"].to_string(),
        "the provider failed in shard 2",
    );
    assert_contains(&merged.to_string(), "broken in shard 2");
    // Untampered, the shards merge.
    let run = tamper(&|_| {});
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}
