//! The git hooks for real: installed into temp repositories (core.hooksPath, linked
//! worktrees), run by real `git commit` and `git push` to a local bare remote, in the middle
//! of a merge, on a detached HEAD, from a subdirectory and before the first commit; and the
//! pre-commit framework running them through `pre-commit try-repo`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_contains, TestRepo};

/// PATH with the promptgate binary first, as a user who installed it has.
fn path_with_promptgate() -> String {
    let bin_dir = Path::new(common::BIN)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs git with the hooks able to find promptgate; does not assert success.
fn git(dir: &Path, args: &[&str]) -> Output {
    common::git_command(dir, args)
        .env("PATH", path_with_promptgate())
        .env_remove("PROMPTGATE_CONFIG")
        .output()
        .expect("git")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A config whose `support` surface is answered by a local command: answers go wrong when
/// the prompt says "terse". Tier as given.
fn config(tier: &str) -> String {
    format!(
        "[provider.local]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"if grep -q terse; then echo no; else echo 'yes, in 5 days'; fi\"]\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"{tier}\"\nmin_pass_rate = 0.9\n\n\
         [tier.council]\napprovers = [\"alice\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n"
    )
}

const CASES: &str = "{\"id\": \"a\", \"vars\": {\"q\": \"refund?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n{\"id\": \"b\", \"vars\": {\"q\": \"when?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"5 days\"}]}\n";

/// A repository with the surface committed and both hooks installed.
fn hooked(tier: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(tier))
        .write("prompts/answer.md", "Answer: {{ q }}\n")
        .write("evals/support.jsonl", CASES);
    repo.commit("surface");
    let run = repo.run(&["hook", "install"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    repo
}

fn commit(dir: &Path, message: &str) -> Output {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message])
}

#[test]
fn install_writes_executable_hooks_and_never_clobbers_foreign_ones() {
    let repo = TestRepo::new();
    let hooks = repo.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::fs::write(hooks.join("pre-push"), "#!/bin/sh\necho mine\n").expect("write");
    let run = repo.run(&["hook", "install"]);
    assert_eq!(run.code, 2);
    assert_contains(&run.stderr, "was not written by promptgate");
    assert!(
        !hooks.join("pre-commit").exists(),
        "a refusal must change nothing"
    );
    let run = repo.run(&["hook", "install", "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let script = std::fs::read_to_string(hooks.join("pre-push")).expect("hook");
    assert_contains(&script, "# promptgate-hook");
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(
        std::fs::metadata(hooks.join("pre-commit"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o111,
        0
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push.promptgate-backup")).expect("backup"),
        "#!/bin/sh\necho mine\n"
    );
    assert_eq!(
        repo.run(&["hook", "install"]).code,
        0,
        "reinstalling our own hooks is fine"
    );
    let run = repo.run(&["hook", "uninstall"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("restored"),
        "#!/bin/sh\necho mine\n"
    );
    assert!(!hooks.join("pre-commit").exists());
}

#[test]
fn install_honours_core_hooks_path_and_linked_worktrees() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("a");
    repo.git(&["config", "core.hooksPath", "tools/hooks"]);
    assert_eq!(repo.run(&["hook", "install", "--pre-commit"]).code, 0);
    assert!(repo.path().join("tools/hooks/pre-commit").exists());
    assert!(!repo.path().join("tools/hooks/pre-push").exists());
    repo.git(&["config", "--unset", "core.hooksPath"]);
    let worktree = repo.path().join("wt");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        worktree.to_str().unwrap_or_default(),
    ]);
    let run = common::run_in(&worktree, &["hook", "install"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        repo.path().join(".git/hooks/pre-commit").exists(),
        "hooks go to the common directory"
    );
}

#[test]
fn a_broken_template_blocks_the_commit_and_names_the_file() {
    let repo = hooked("self");
    repo.write("prompts/answer.md", "Answer: {{ q }\n");
    let output = commit(repo.path(), "broken");
    assert!(!output.status.success(), "the commit went through");
    let err = stderr(&output);
    assert_contains(&err, "promptgate: prompts/answer.md:1:");
    assert_contains(&err, "git commit --no-verify");
    // A variable the cases do not define is caught too.
    repo.write("prompts/answer.md", "Answer: {{ q }} in {{ locale }}\n");
    let output = commit(repo.path(), "new variable");
    assert!(!output.status.success());
    assert_contains(&stderr(&output), "uses variable `locale`");
}

#[test]
fn unrelated_and_valid_changes_commit_normally_from_a_subdirectory() {
    let repo = hooked("self");
    repo.write("docs/notes.md", "notes\n");
    let output = commit(&repo.path().join("docs"), "docs");
    assert!(output.status.success(), "{}", stderr(&output));
    repo.write("prompts/answer.md", "Answer kindly: {{ q }}\n");
    let output = commit(&repo.path().join("docs"), "reword");
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `[hooks] artifacts`: by default (`warn`) a council change without a change record is
/// committed and pushed to a branch, each hook saying what the pull request will need;
/// under `require` both hooks stop it until a change record is there.
#[test]
fn missing_artifacts_warn_by_default_and_stop_commit_and_push_under_require() {
    for require in [false, true] {
        let (repo, _bare) = pushable_with("council");
        if require {
            let config = std::fs::read_to_string(repo.path().join("promptgate.toml"))
                .expect("config")
                + "\n[hooks]\nartifacts = \"require\"\n";
            repo.write("promptgate.toml", config);
            git(repo.path(), &["add", "-A"]);
            git(
                repo.path(),
                &["commit", "-q", "--no-verify", "-m", "require artifacts"],
            );
            let output = git(
                repo.path(),
                &["push", "-q", "--no-verify", "origin", "main"],
            );
            assert!(output.status.success(), "{}", stderr(&output));
        }
        git(repo.path(), &["checkout", "-q", "-b", "reword"]);
        repo.write("prompts/answer.md", "Answer kindly: {{ q }}\n");
        let output = commit(repo.path(), "reword");
        let err = stderr(&output);
        assert_contains(&err, "needs the `impact` artifact");
        assert_eq!(
            output.status.success(),
            !require,
            "require={require}: {err}"
        );
        if !require {
            assert_contains(&err, "the pull request will need it");
            // The push goes through too, saying what the pull request will need.
            let output = git(repo.path(), &["push", "-q", "origin", "reword"]);
            let err = stderr(&output);
            assert!(output.status.success(), "{err}");
            assert_contains(&err, "artifact `impact` is missing");
            continue;
        }
        // Under `require` the push of a commit made without the hook stops as well.
        git(
            repo.path(),
            &["commit", "-q", "--no-verify", "-m", "reword"],
        );
        let output = git(repo.path(), &["push", "-q", "origin", "reword"]);
        assert!(!output.status.success(), "pushed without artifacts");
        assert_contains(&stderr(&output), "artifact `impact` is missing");
        repo.write(
            ".promptgate/changes/reword.md",
            "## Expected user impact\nKinder answers.\n\n## Rollback plan\nRevert the commit.\n",
        );
        let output = commit(repo.path(), "reword with record");
        assert!(output.status.success(), "{}", stderr(&output));
        let output = git(repo.path(), &["push", "-q", "origin", "reword"]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

#[test]
fn works_before_the_first_commit_on_a_detached_head_and_mid_merge() {
    let repo = TestRepo::new();
    assert_eq!(repo.run(&["hook", "install", "--pre-commit"]).code, 0);
    repo.write("promptgate.toml", config("self"))
        .write("prompts/answer.md", "Answer: {{ q }}\n")
        .write("evals/support.jsonl", CASES);
    let output = commit(repo.path(), "first");
    assert!(output.status.success(), "{}", stderr(&output));

    git(repo.path(), &["checkout", "-q", "--detach"]);
    repo.write("prompts/answer.md", "Detached: {{ q }}\n");
    let output = commit(repo.path(), "detached");
    assert!(output.status.success(), "{}", stderr(&output));

    git(repo.path(), &["checkout", "-q", "main"]);
    git(repo.path(), &["checkout", "-q", "-b", "other"]);
    repo.write("prompts/answer.md", "Other: {{ q }}\n");
    commit(repo.path(), "other");
    git(repo.path(), &["checkout", "-q", "main"]);
    repo.write("prompts/answer.md", "Main: {{ q }}\n");
    commit(repo.path(), "main");
    let merge = git(repo.path(), &["merge", "-q", "other"]);
    assert!(!merge.status.success(), "expected a conflict");
    repo.write("prompts/answer.md", "Merged: {{ q }}\n");
    let output = commit(repo.path(), "merge");
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A bare remote and a clone with the hooks installed.
fn pushable() -> (TestRepo, PathBuf) {
    pushable_with("self")
}

/// A bare remote holding `main` (its default branch, recorded as origin/HEAD) and a clone
/// with the hooks installed, at the given tier.
fn pushable_with(tier: &str) -> (TestRepo, PathBuf) {
    let origin = hooked(tier);
    let bare = common::tempdir();
    git(&bare, &["init", "-q", "--bare"]);
    let bare_path = bare.to_str().unwrap_or_default().to_string();
    git(origin.path(), &["remote", "add", "origin", &bare_path]);
    let output = git(origin.path(), &["push", "-q", "origin", "main"]);
    assert!(output.status.success(), "{}", stderr(&output));
    git(origin.path(), &["remote", "set-head", "origin", "main"]);
    (origin, bare)
}

#[test]
fn pre_push_stops_a_regression_and_lets_a_good_change_through() {
    let (repo, _bare) = pushable();
    repo.write("prompts/answer.md", "Be terse. Answer: {{ q }}\n");
    assert!(commit(repo.path(), "terse").status.success());
    let output = git(repo.path(), &["push", "-q", "origin", "main"]);
    assert!(!output.status.success(), "the regression was pushed");
    let err = stderr(&output);
    assert_contains(&err, "BLOCKED");
    assert_contains(&err, "min_pass_rate");
    repo.write("prompts/answer.md", "Answer warmly: {{ q }}\n");
    assert!(commit(repo.path(), "warm").status.success());
    let output = git(repo.path(), &["push", "-q", "origin", "main"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn pre_push_gates_new_branches_against_the_default_base() {
    let (repo, _bare) = pushable();
    git(repo.path(), &["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/answer.md", "Be terse. Answer: {{ q }}\n");
    assert!(commit(repo.path(), "terse").status.success());
    let output = git(repo.path(), &["push", "-q", "origin", "feature"]);
    assert!(!output.status.success(), "{}", stderr(&output));
    // Deleting a remote branch is never gated.
    let output = git(
        repo.path(),
        &["push", "-q", "--no-verify", "origin", "feature"],
    );
    assert!(output.status.success());
    let output = git(repo.path(), &["push", "-q", "origin", ":feature"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn the_hook_script_explains_a_missing_binary() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/pre-commit");
    let output = Command::new("/bin/sh")
        .arg(&script)
        .env("PATH", "/nonexistent")
        .output()
        .expect("sh");
    assert_eq!(output.status.code(), Some(1));
    assert_contains(&stderr(&output), "promptgate is not installed");
}

#[test]
fn the_pre_commit_framework_runs_the_hooks_offline() {
    let repo = hooked("self");
    repo.run(&["hook", "uninstall"]);
    let crate_root = env!("CARGO_MANIFEST_DIR");
    repo.write("prompts/answer.md", "Answer: {{ q }\n");
    git(repo.path(), &["add", "-A"]);
    let output = Command::new("python3")
        .args([
            "-m",
            "pre_commit",
            "try-repo",
            crate_root,
            "promptgate",
            "--verbose",
        ])
        .current_dir(repo.path())
        .env("PATH", path_with_promptgate())
        .env("PRE_COMMIT_HOME", repo.path().join(".pre-commit-cache"))
        .output()
        .expect("pre-commit must be installed (pip install pre-commit; .ci/run does)");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(!output.status.success(), "{out}");
    assert_contains(&out, "prompts/answer.md:1:");
    repo.write("prompts/answer.md", "Answer: {{ q }}\n");
    git(repo.path(), &["add", "-A"]);
    let output = Command::new("python3")
        .args(["-m", "pre_commit", "try-repo", crate_root, "promptgate"])
        .current_dir(repo.path())
        .env("PATH", path_with_promptgate())
        .env("PRE_COMMIT_HOME", repo.path().join(".pre-commit-cache"))
        .output()
        .expect("pre-commit");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

#[test]
fn works_in_a_linked_worktree_and_during_a_rebase() {
    let repo = hooked("self");
    let worktree = repo.path().join("wt");
    git(
        repo.path(),
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "side",
            worktree.to_str().unwrap_or_default(),
        ],
    );
    std::fs::write(worktree.join("prompts/answer.md"), "Answer: {{ q }\n").expect("write");
    let output = commit(&worktree, "broken in a worktree");
    assert!(
        !output.status.success(),
        "the hook did not run in the worktree"
    );
    assert_contains(&stderr(&output), "prompts/answer.md:1:");
    std::fs::write(worktree.join("prompts/answer.md"), "Side: {{ q }}\n").expect("write");
    assert!(commit(&worktree, "side").status.success());

    // A rebase that stops on a conflict: the resolution is committed through the hook.
    repo.write("prompts/answer.md", "Main: {{ q }}\n");
    assert!(commit(repo.path(), "main").status.success());
    let rebase = git(&worktree, &["rebase", "main"]);
    assert!(!rebase.status.success(), "expected a conflict");
    std::fs::write(worktree.join("prompts/answer.md"), "Resolved: {{ q }\n").expect("write");
    let output = commit(&worktree, "resolution");
    assert!(
        !output.status.success(),
        "a broken resolution was committed mid-rebase"
    );
    std::fs::write(worktree.join("prompts/answer.md"), "Resolved: {{ q }}\n").expect("write");
    let output = commit(&worktree, "resolution");
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A council change on a pull request branch goes through pre-push (the gate holds; the
/// pull request will need approvals), and is judged against the default branch on every
/// push: the second push sees the change record the first one carried.
#[test]
fn pre_push_judges_every_push_of_a_branch_on_the_whole_change() {
    let (repo, _bare) = pushable_with("council");
    git(repo.path(), &["checkout", "-q", "-b", "warmer"]);
    repo.write("prompts/answer.md", "Answer warmly: {{ q }}\n")
        .write(
            ".promptgate/changes/warm.md",
            "## Expected user impact\nWarmer.\n\n## Rollback plan\nRevert.\n",
        );
    assert!(commit(repo.path(), "warm").status.success());
    let output = git(repo.path(), &["push", "-q", "-u", "origin", "warmer"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_contains(
        &stderr(&output),
        "the pull request will need the approvals above",
    );
    // A follow-up commit without a record of its own: the record is already on the branch.
    repo.write("prompts/answer.md", "Answer warmly and briefly: {{ q }}\n");
    let output = commit(repo.path(), "briefer");
    assert!(output.status.success(), "{}", stderr(&output));
    let output = git(repo.path(), &["push", "-q", "origin", "warmer"]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert_contains(
        &err,
        "compared with origin/main, the default branch (merge base)",
    );
    assert_contains(&err, "the pull request will need the approvals above");
}

/// A regression pushed earlier (past the hook) is still in the change on the next push,
/// however harmless the new commit is.
#[test]
fn pre_push_judges_a_later_push_against_the_default_branch_not_the_previous_push() {
    let (repo, _bare) = pushable();
    git(repo.path(), &["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/answer.md", "Be terse. Answer: {{ q }}\n");
    assert!(commit(repo.path(), "terse").status.success());
    let output = git(
        repo.path(),
        &["push", "-q", "--no-verify", "-u", "origin", "feature"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    repo.write("docs/notes.md", "notes\n");
    assert!(commit(repo.path(), "notes").status.success());
    let output = git(repo.path(), &["push", "-q", "origin", "feature"]);
    let err = stderr(&output);
    assert!(
        !output.status.success(),
        "the regression went through: {err}"
    );
    assert_contains(&err, "BLOCKED");
    assert_contains(&err, "min_pass_rate");
}

/// Council and exec changes go through a pull request: pushed straight to the remote's
/// default branch they are stopped, with the reason; the same commit pushed to a branch
/// goes through. A `self` change may still be pushed to the default branch.
#[test]
fn a_council_change_pushed_straight_to_the_default_branch_is_stopped() {
    for remote_head in [true, false] {
        let (repo, _bare) = pushable_with("council");
        if !remote_head {
            git(repo.path(), &["remote", "set-head", "origin", "--delete"]);
        }
        repo.write("prompts/answer.md", "Answer warmly: {{ q }}\n")
            .write(
                ".promptgate/changes/warm.md",
                "## Expected user impact\nWarmer.\n\n## Rollback plan\nRevert.\n",
            );
        assert!(commit(repo.path(), "warm").status.success());
        let output = git(repo.path(), &["push", "-q", "origin", "main"]);
        let err = stderr(&output);
        assert!(!output.status.success(), "pushed to main: {err}");
        assert_contains(&err, "changes of tier council go through a pull request");
        assert_contains(&err, "git push origin HEAD:refs/heads/<topic>");
        assert_ne!(
            git_out(repo.path(), &["rev-parse", "HEAD"]),
            git_out(repo.path(), &["rev-parse", "origin/main"]),
            "the remote's default branch moved"
        );
        let output = git(
            repo.path(),
            &["push", "-q", "origin", "HEAD:refs/heads/warm"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert_contains(
            &stderr(&output),
            "the pull request will need the approvals above",
        );
    }
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&git(dir, args).stdout)
        .trim()
        .to_string()
}

/// `git commit -a` (and `git commit <path>`) stage into a temporary index that git hands
/// the hook in GIT_INDEX_FILE; `.git/index` does not have the change.
#[test]
fn commit_all_through_the_hook_blocks_a_broken_template() {
    let repo = hooked("self");
    repo.write("prompts/answer.md", "Answer: {{ q }\n");
    for args in [
        &["commit", "-q", "-a", "-m", "broken"][..],
        &["commit", "-q", "-m", "broken", "prompts/answer.md"][..],
    ] {
        let output = git(repo.path(), args);
        let err = stderr(&output);
        assert!(!output.status.success(), "{args:?} went through: {err}");
        assert_contains(&err, "promptgate: prompts/answer.md:1:");
    }
    repo.write("prompts/answer.md", "Answer kindly: {{ q }}\n");
    let output = git(repo.path(), &["commit", "-q", "-a", "-m", "kind"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A repository whose git directory and working tree are apart, used through `--git-dir`
/// and `--work-tree` (git hands them to the hook as GIT_DIR and GIT_WORK_TREE), and by
/// promptgate itself from elsewhere with the variables (relative ones included).
#[test]
fn the_hooks_and_commands_honour_git_dir_and_git_work_tree() {
    let root = common::tempdir();
    let (git_dir, work) = (root.join("store/project.git"), root.join("work"));
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(root.join("store")).expect("mkdir");
    let apart = |args: &[&str]| {
        let mut all = vec![
            "--git-dir",
            git_dir.to_str().unwrap_or_default(),
            "--work-tree",
            work.to_str().unwrap_or_default(),
        ];
        all.extend_from_slice(args);
        git(&work, &all)
    };
    assert!(apart(&["init", "-q", "-b", "main"]).status.success());
    // Only the variables say where the working tree is.
    assert!(apart(&["config", "--unset", "core.worktree"])
        .status
        .success());
    let env = [
        ("GIT_DIR", git_dir.to_str().unwrap_or_default()),
        ("GIT_WORK_TREE", work.to_str().unwrap_or_default()),
    ];
    let run = common::run_with_env(&work, &["hook", "install", "--pre-commit"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(git_dir.join("hooks/pre-commit").exists());

    let write = |path: &str, text: &str| {
        let full = work.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    };
    write("promptgate.toml", &config("self"));
    write("prompts/answer.md", "Answer: {{ q }}\n");
    write("evals/support.jsonl", CASES);
    assert!(apart(&["add", "-A"]).status.success());
    let output = apart(&["commit", "-q", "-m", "surface"]);
    assert!(output.status.success(), "{}", stderr(&output));

    write("prompts/answer.md", "Answer: {{ q }\n");
    assert!(apart(&["add", "-A"]).status.success());
    let output = apart(&["commit", "-q", "-m", "broken"]);
    assert!(
        !output.status.success(),
        "the broken template was committed"
    );
    assert_contains(&stderr(&output), "promptgate: prompts/answer.md:1:");

    // The working tree is read where GIT_WORK_TREE says, relative to the current directory.
    let relative = [("GIT_DIR", "store/project.git"), ("GIT_WORK_TREE", "work")];
    let run = common::run_with_env(&root, &["validate"], &relative);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert_contains(
        &format!("{}{}", run.stdout, run.stderr),
        "prompts/answer.md:1",
    );
    write("prompts/answer.md", "Answer: {{ q }}\n");
    let run = common::run_with_env(&root, &["validate"], &relative);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // A GIT_DIR that is no repository is said as such.
    let run = common::run_with_env(&root, &["validate"], &[("GIT_DIR", "nowhere")]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains(&run.stderr, "GIT_DIR names");
}

/// With no default branch to compare with (the project's branch is `trunk` and the remote
/// never said so), a push cannot be gated: it is stopped with the fix, not waved through.
#[test]
fn pre_push_without_a_default_branch_stops_with_the_fix() {
    let repo = hooked("self");
    git(repo.path(), &["branch", "-m", "main", "trunk"]);
    let bare = common::tempdir();
    git(&bare, &["init", "-q", "--bare"]);
    git(
        repo.path(),
        &["remote", "add", "origin", bare.to_str().unwrap_or_default()],
    );
    repo.write("prompts/answer.md", "Be terse. Answer: {{ q }}\n");
    assert!(commit(repo.path(), "terse").status.success());
    let output = git(repo.path(), &["push", "-q", "origin", "trunk"]);
    let err = stderr(&output);
    assert!(!output.status.success(), "pushed ungated: {err}");
    assert_contains(&err, "no default branch to compare");
    assert_contains(&err, "git remote set-head origin --auto");
    // Once the remote's default branch is known, the gate runs (and blocks the regression).
    git(
        repo.path(),
        &[
            "push",
            "-q",
            "--no-verify",
            "origin",
            "trunk~1:refs/heads/trunk",
        ],
    );
    git(repo.path(), &["remote", "set-head", "origin", "trunk"]);
    let output = git(repo.path(), &["push", "-q", "origin", "trunk"]);
    assert!(!output.status.success());
    assert_contains(&stderr(&output), "min_pass_rate");
}

#[test]
fn a_staged_case_removal_is_an_exec_change_that_needs_a_record() {
    let repo = TestRepo::new();
    repo.write(
        "promptgate.toml",
        config("self") + "\n[tier.exec]\napprovers = [\"acme/execs\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n\n[hooks]\nartifacts = \"require\"\n",
    )
    .write("prompts/answer.md", "Answer: {{ q }}\n")
    .write("evals/support.jsonl", CASES);
    repo.commit("surface");
    assert_eq!(repo.run(&["hook", "install"]).code, 0);
    // Adding a case is no loosening: a self change commits.
    repo.write(
        "evals/support.jsonl",
        format!("{CASES}{{\"id\": \"c\", \"vars\": {{\"q\": \"how?\"}}, \"assert\": [{{\"type\": \"contains\", \"value\": \"5 days\"}}]}}\n"),
    );
    let output = commit(repo.path(), "one more case");
    assert!(output.status.success(), "{}", stderr(&output));
    // Dropping the case the prompt fails is: exec, whose tier needs a change record.
    repo.write("evals/support.jsonl", CASES);
    let output = commit(repo.path(), "drop a case");
    assert!(!output.status.success());
    assert_contains(&stderr(&output), "needs the `impact` artifact");
}
