//! promptgate's own index reader (the hook's fast path) must name exactly the paths that
//! `git diff --cached --no-renames --name-only` names, for every index format and state.

mod common;

use common::TestRepo;
use promptgate::git::Repo;

/// The staged paths as promptgate's fast path sees them, sorted; `None` if it stepped aside.
fn fast_paths(repo: &TestRepo) -> Option<Vec<String>> {
    let git = Repo::discover(repo.path()).expect("repo");
    let head = git.head().ok();
    let index = git.index_snapshot().expect("index");
    let mut paths = git.staged_paths(&index, head)?;
    paths.sort();
    paths.dedup();
    Some(paths)
}

fn git_paths(repo: &TestRepo) -> Vec<String> {
    let out = repo.git(&[
        "-c",
        "core.quotepath=off",
        "diff",
        "--cached",
        "--no-renames",
        "--name-only",
    ]);
    let mut paths: Vec<String> = out
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect();
    paths.sort();
    paths
}

fn assert_agrees(repo: &TestRepo) {
    let fast = fast_paths(repo).expect("the fast path should apply");
    assert_eq!(fast, git_paths(repo));
}

/// A committed tree with nested directories, then the index left to each test.
fn repo_with_tree() -> TestRepo {
    let repo = TestRepo::new();
    for d in 0..5 {
        for f in 0..4 {
            repo.write(&format!("src/d{d}/f{f}.txt"), format!("{d}{f}\n"));
        }
    }
    repo.write("prompts/a.md", "a\n")
        .write("prompts/deep/b.md", "b\n")
        .write("top.txt", "top\n")
        .write("a.txt", "sorts before a/\n")
        .write("a/inner.txt", "inner\n");
    repo.commit("base");
    repo
}

#[test]
fn nothing_staged() {
    let repo = repo_with_tree();
    assert_eq!(fast_paths(&repo), Some(vec![]));
}

#[test]
fn modifications_additions_deletions_and_modes() {
    let repo = repo_with_tree();
    repo.write("src/d1/f2.txt", "changed\n")
        .write("src/d9/new.txt", "new dir\n")
        .write("prompts/c.md", "c\n")
        .remove("src/d3/f0.txt");
    repo.git(&["rm", "-q", "-r", "src/d4"]);
    repo.git(&["add", "-A"]);
    repo.git(&["update-index", "--chmod=+x", "top.txt"]);
    assert_agrees(&repo);
}

#[test]
fn renames_are_both_paths_and_type_changes_both_ways() {
    let repo = repo_with_tree();
    repo.git(&["mv", "prompts/a.md", "prompts/moved.md"]);
    // A file becomes a directory, a directory becomes a file.
    repo.remove("top.txt")
        .write("top.txt/inside.md", "now a dir\n");
    repo.git(&["rm", "-q", "-r", "a"]);
    repo.write("a", "now a file\n");
    repo.git(&["add", "-A"]);
    assert_agrees(&repo);
}

#[test]
fn without_a_cache_tree() {
    let repo = repo_with_tree();
    repo.write("src/d0/f0.txt", "x\n");
    repo.git(&["add", "-A"]);
    // read-tree of HEAD then re-adding drops most of the cache-tree.
    repo.git(&["read-tree", "--empty"]);
    repo.git(&["add", "-A"]);
    assert_agrees(&repo);
}

#[test]
fn index_versions_2_3_and_4() {
    for version in ["2", "3", "4"] {
        let repo = repo_with_tree();
        repo.git(&["update-index", "--index-version", version]);
        repo.write("src/d2/f3.txt", "v\n")
            .write("src/d2/f9.txt", "added\n");
        repo.remove("prompts/deep/b.md");
        repo.git(&["add", "-A"]);
        assert_agrees(&repo);
    }
}

#[test]
fn unicode_and_space_paths() {
    let repo = repo_with_tree();
    repo.write("prompts/ünï cödé/x y.md", "u\n");
    repo.git(&["add", "-A"]);
    assert_agrees(&repo);
}

#[test]
fn repository_without_commits() {
    let repo = TestRepo::new();
    repo.write("p/a.md", "a\n").write("b.txt", "b\n");
    repo.git(&["add", "-A"]);
    assert_agrees(&repo);
}

#[test]
fn intent_to_add_is_not_staged_and_conflicts_defer_to_the_full_diff() {
    let repo = repo_with_tree();
    repo.write("prompts/later.md", "later\n");
    repo.git(&["add", "-N", "prompts/later.md"]);
    repo.write("src/d0/f0.txt", "x\n");
    repo.git(&["add", "src/d0/f0.txt"]);
    // Either the reader steps aside (libgit2 diffs), or it agrees with git.
    if let Some(paths) = fast_paths(&repo) {
        assert_eq!(paths, git_paths(&repo));
    }

    let repo = repo_with_tree();
    repo.git(&["checkout", "-q", "-b", "other"]);
    repo.write("prompts/a.md", "other\n");
    repo.commit("other");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("prompts/a.md", "main\n");
    repo.commit("main");
    assert!(
        !common::git_succeeds(repo.path(), &["merge", "-q", "other"]),
        "the merge should conflict"
    );
    assert!(
        repo.git(&["ls-files", "-u"]).contains("prompts/a.md"),
        "no conflict entries"
    );
    assert_eq!(fast_paths(&repo), None);
    // The diff command still works mid-merge, through libgit2.
    repo.write("promptgate.toml", common::config(&[("s", "prompts/**")]));
    repo.git(&["add", "promptgate.toml"]);
    let run = repo.run(&["diff", "--staged", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn diff_staged_fast_path_still_reports_relevant_changes() {
    let repo = repo_with_tree();
    repo.write(
        "promptgate.toml",
        common::config(&[("s", "prompts/**/*.md")]),
    );
    repo.commit("config");
    repo.write("src/d0/f1.txt", "irrelevant\n");
    repo.git(&["add", "-A"]);
    let json = repo.diff_json(&["--staged"]);
    assert_eq!(json["changes"], serde_json::json!([]));
    repo.write("prompts/deep/b.md", "relevant\n");
    repo.git(&["add", "-A"]);
    let json = repo.diff_json(&["--staged"]);
    assert_eq!(common::changes(&json).len(), 1);
    assert_eq!(json["changes"][0]["path"], "prompts/deep/b.md");
}
