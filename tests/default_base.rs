//! The default `--base` of `check` and `diff`: the remote's default branch (`origin/HEAD`,
//! else `origin/main`/`origin/master`, else a local `main`/`master`), never the current
//! branch's upstream — after the usual `git push -u` that is the branch itself, and the
//! gate would compare the change with itself. Real clones of real bare remotes.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_contains, git_in, Run};
use serde_json::Value;

/// The `support` surface answered by a local command that goes wrong when the prompt says
/// "terse": a head saying so is blocked (every case fails).
const CONFIG: &str = "[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"if grep -q terse; then echo no; else echo 'yes, in 5 days'; fi\"]\n\n\
    [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"self\"\nmin_pass_rate = 0.9\n";

const CASES: &str = "{\"id\": \"a\", \"vars\": {\"q\": \"refund?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n{\"id\": \"b\", \"vars\": {\"q\": \"when?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n";

const GOOD: &str = "Answer: {{ q }}\n";
const TERSE: &str = "Be terse. Answer: {{ q }}\n";

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, text).expect("write");
}

fn commit_all(dir: &Path, message: &str) -> String {
    git_in(dir, &["add", "-A"]);
    git_in(dir, &["commit", "-q", "-m", message]);
    git_in(dir, &["rev-parse", "HEAD"])
}

/// A repository at `dir` on branch `branch` with the surface committed.
fn seeded(dir: &Path, branch: &str) {
    git_in(dir, &["init", "-q", "-b", branch]);
    write(dir, "promptgate.toml", CONFIG);
    write(dir, "prompts/answer.md", GOOD);
    write(dir, "evals/support.jsonl", CASES);
    commit_all(dir, "surface");
}

/// An empty bare remote whose HEAD names `default`.
fn bare(default: &str) -> PathBuf {
    let bare = common::tempdir();
    git_in(&bare, &["init", "-q", "--bare", "-b", default]);
    bare
}

fn path(dir: &Path) -> &str {
    dir.to_str().expect("utf-8 path")
}

/// The terse (regressing) change committed on a new branch `feature` and pushed with `-u`,
/// so the branch's upstream is its own tip.
fn push_regression(clone: &Path) -> String {
    git_in(clone, &["checkout", "-q", "-b", "feature"]);
    write(clone, "prompts/answer.md", TERSE);
    let head = commit_all(clone, "terse");
    git_in(clone, &["push", "-q", "-u", "origin", "feature"]);
    assert_eq!(
        git_in(clone, &["rev-parse", "@{upstream}"]),
        head,
        "the upstream is the branch itself"
    );
    head
}

fn check_json(dir: &Path) -> (Run, Value) {
    let run = common::run_in(dir, &["check", "--format", "json"]);
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run, json)
}

/// Each way a clone learns its remote's default branch: the base is that branch (its
/// merge base with the head), and the regression is blocked — not a pass against itself.
#[test]
fn check_compares_a_pushed_branch_with_the_remotes_default_branch() {
    struct Case {
        name: &'static str,
        /// Builds the clone; returns it and the revision `check` must compare with.
        setup: fn() -> (PathBuf, &'static str),
    }
    let cases = [
        Case {
            name: "origin/HEAD, as `git clone` records it",
            setup: || {
                let seed = common::tempdir();
                seeded(&seed, "main");
                let remote = bare("main");
                git_in(&seed, &["push", "-q", path(&remote), "main"]);
                let clone = common::tempdir();
                git_in(&clone, &["clone", "-q", path(&remote), "."]);
                (clone, "origin/main")
            },
        },
        Case {
            name: "origin/HEAD naming a default branch other than main",
            setup: || {
                let seed = common::tempdir();
                seeded(&seed, "main");
                let remote = bare("trunk");
                git_in(&seed, &["push", "-q", path(&remote), "main"]);
                write(&seed, "docs/notes.md", "notes\n");
                commit_all(&seed, "trunk moves on");
                git_in(&seed, &["push", "-q", path(&remote), "main:trunk"]);
                let clone = common::tempdir();
                git_in(&clone, &["clone", "-q", path(&remote), "."]);
                (clone, "origin/trunk")
            },
        },
        Case {
            name: "no origin/HEAD (remote added by hand): origin/main",
            setup: || {
                let clone = common::tempdir();
                seeded(&clone, "main");
                let remote = bare("main");
                git_in(&clone, &["remote", "add", "origin", path(&remote)]);
                git_in(&clone, &["push", "-q", "-u", "origin", "main"]);
                (clone, "origin/main")
            },
        },
        Case {
            name: "no origin/HEAD, the remote's branch is master",
            setup: || {
                let clone = common::tempdir();
                seeded(&clone, "master");
                let remote = bare("master");
                git_in(&clone, &["remote", "add", "origin", path(&remote)]);
                git_in(&clone, &["push", "-q", "-u", "origin", "master"]);
                (clone, "origin/master")
            },
        },
    ];
    for case in cases {
        let (clone, expected) = (case.setup)();
        let head = push_regression(&clone);
        let (run, json) = check_json(&clone);
        let name = case.name;
        assert_eq!(
            (run.code, json["verdict"].as_str()),
            (1, Some("blocked")),
            "{name}: {json:#}\n{}",
            run.stderr
        );
        assert_eq!(
            json["merge_base"].as_str(),
            Some(git_in(&clone, &["merge-base", expected, &head]).as_str()),
            "{name}"
        );
        assert_contains(
            &run.stderr,
            format!("comparing with {expected}, the default branch"),
        );
    }
}

/// Without any remote, a local `main` is the default branch.
#[test]
fn check_without_a_remote_compares_with_the_local_main() {
    let repo = common::tempdir();
    seeded(&repo, "main");
    git_in(&repo, &["checkout", "-q", "-b", "feature"]);
    write(&repo, "prompts/answer.md", TERSE);
    commit_all(&repo, "terse");
    let (run, json) = check_json(&repo);
    assert_eq!(run.code, 1, "{json:#}\n{}", run.stderr);
    assert_eq!(
        json["merge_base"].as_str(),
        Some(git_in(&repo, &["rev-parse", "main"]).as_str())
    );
    assert_contains(&run.stderr, "comparing with main, the default branch");
}

/// On the default branch itself, in step with the remote, the change is empty: that is a
/// pass, and the output says which base it was measured against.
#[test]
fn check_on_the_default_branch_says_the_change_is_empty() {
    let seed = common::tempdir();
    seeded(&seed, "main");
    let remote = bare("main");
    git_in(&seed, &["push", "-q", path(&remote), "main"]);
    let clone = common::tempdir();
    git_in(&clone, &["clone", "-q", path(&remote), "."]);
    let run = common::run_in(&clone, &["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_contains(
        &run.stderr,
        "comparing with origin/main, the default branch (HEAD is already part of it, so the change is empty)",
    );
    // A commit not pushed yet is the change.
    write(&clone, "prompts/answer.md", TERSE);
    commit_all(&clone, "terse, unpushed");
    let run = common::run_in(&clone, &["check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}

#[test]
fn diff_compares_a_pushed_branch_with_the_remotes_default_branch() {
    let seed = common::tempdir();
    seeded(&seed, "main");
    let remote = bare("main");
    git_in(&seed, &["push", "-q", path(&remote), "main"]);
    let clone = common::tempdir();
    git_in(&clone, &["clone", "-q", path(&remote), "."]);
    push_regression(&clone);

    let run = common::run_in(&clone, &["diff", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).expect("diff JSON");
    assert_eq!(
        json["base"].as_str(),
        Some(git_in(&clone, &["rev-parse", "origin/main"]).as_str())
    );
    assert_eq!(
        common::change(&json, "prompts/answer.md")["status"],
        "modified"
    );
    assert_contains(
        &run.stderr,
        "comparing with origin/main, the default branch",
    );

    let run = common::run_in(&clone, &["diff", "--color", "never"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains(&run.stdout, "base origin/main");
    assert_contains(&run.stdout, "prompts/answer.md");
}

/// A branch pushed with `-u` where no default branch exists (the project's branch is
/// `trunk` and the remote never said so): a usage error naming `--base`, never the
/// upstream.
#[test]
fn no_default_branch_is_a_usage_error_naming_base() {
    let clone = common::tempdir();
    seeded(&clone, "trunk");
    let remote = common::tempdir();
    git_in(&remote, &["init", "-q", "--bare"]);
    git_in(&clone, &["remote", "add", "origin", path(&remote)]);
    git_in(&clone, &["push", "-q", "-u", "origin", "trunk"]);
    write(&clone, "prompts/answer.md", TERSE);
    commit_all(&clone, "terse");
    git_in(&clone, &["push", "-q"]);
    for command in ["check", "diff"] {
        let run = common::run_in(&clone, &[command]);
        assert_eq!(run.code, 2, "{command}: {}{}", run.stdout, run.stderr);
        assert_contains(&run.stderr, "found no default branch");
        assert_contains(&run.stderr, "pass --base REF");
    }
    // Naming it works.
    let run = common::run_in(&clone, &["check", "--base", "trunk~1"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}
