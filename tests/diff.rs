//! `promptgate diff` on real histories: renames, bulk moves, deletions, merges, odd paths
//! and contents, includes and config changes, the index, and every failure mode.

mod common;

use common::{assert_contains, change, changes, config, TestRepo};
use serde_json::json;

/// A repo with surfaces `support` (prompts/support/**) and `triage` (prompts/triage/*.md)
/// committed on `main`, then a `feature` branch checked out.
fn two_surfaces() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        "promptgate.toml",
        config(&[
            ("support", "prompts/support/**/*.md"),
            ("triage", "prompts/triage/*.md"),
        ]),
    )
    .write(
        "prompts/support/answer.md",
        "Answer {{ question }} briefly.\n",
    )
    .write("prompts/triage/route.md", "Route {{ ticket }}.\n")
    .write("src/app.py", "print('hi')\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

#[test]
fn modified_prompt_maps_to_its_surface_and_other_files_are_ignored() {
    let repo = two_surfaces();
    repo.write(
        "prompts/support/answer.md",
        "Answer {{ question }} thoroughly.\n",
    )
    .write("src/app.py", "print('bye')\n");
    let head = repo.commit("edit");
    let base = repo.git(&["rev-parse", "main"]);
    let json = repo.diff_json(&["--base", "main"]);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["base"], base);
    assert_eq!(json["head"], head);
    assert_eq!(json["merge_base"], base);
    assert_eq!(
        json["changes"],
        json!([{"status": "modified", "path": "prompts/support/answer.md", "kind": "text", "via": "prompt", "surfaces": ["support"]}])
    );
    assert_eq!(json["surfaces"], json!(["support"]));
}

#[test]
fn rename_without_edit_is_a_pure_rename() {
    let repo = two_surfaces();
    repo.git(&[
        "mv",
        "prompts/support/answer.md",
        "prompts/support/reply.md",
    ]);
    repo.commit("rename");
    let json = repo.diff_json(&["--base", "main"]);
    let c = change(&json, "prompts/support/reply.md");
    assert_eq!(c["status"], "renamed");
    assert_eq!(c["old_path"], "prompts/support/answer.md");
    assert_eq!(c["similarity"], 100);
    assert_eq!(changes(&json).len(), 1);
}

#[test]
fn rename_with_edit_is_still_a_rename_with_its_similarity() {
    let repo = two_surfaces();
    let body: String = (0..20)
        .map(|i| format!("Rule {i}: be helpful about {{{{ topic }}}}.\n"))
        .collect();
    repo.write("prompts/support/long.md", &body);
    repo.commit("long prompt");
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.remove("prompts/support/long.md").write(
        "prompts/support/longer.md",
        body.replace("Rule 3:", "Rule three:"),
    );
    repo.commit("rename and edit");
    let json = repo.diff_json(&["--base", &base]);
    let c = change(&json, "prompts/support/longer.md");
    assert_eq!(c["status"], "renamed");
    assert_eq!(c["old_path"], "prompts/support/long.md");
    let similarity = c["similarity"].as_u64().expect("similarity");
    assert!((50..100).contains(&similarity), "{similarity}");
}

#[test]
fn rename_across_surfaces_names_both() {
    let repo = two_surfaces();
    repo.git(&["mv", "prompts/triage/route.md", "prompts/support/route.md"]);
    repo.commit("move");
    let json = repo.diff_json(&["--base", "main"]);
    assert_eq!(
        change(&json, "prompts/support/route.md")["surfaces"],
        json!(["support", "triage"])
    );
}

#[test]
fn bulk_move_of_hundreds_of_files_stays_renames() {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(&[("all", "prompts/**/*.md")]));
    for i in 0..300 {
        repo.write(
            &format!("prompts/old/p{i:03}.md"),
            format!("Prompt number {i}: answer {{{{ q }}}} in style {i}.\n"),
        );
    }
    repo.commit("many prompts");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["mv", "prompts/old", "prompts/new"]);
    repo.commit("move them all");
    let json = repo.diff_json(&["--base", "main"]);
    let all = changes(&json);
    assert_eq!(all.len(), 300);
    assert!(
        all.iter()
            .all(|c| c["status"] == "renamed" && c["similarity"] == 100),
        "{json:#}"
    );
    assert_eq!(
        change(&json, "prompts/new/p042.md")["old_path"],
        "prompts/old/p042.md"
    );
}

#[test]
fn deletion_is_reported_with_the_old_path() {
    let repo = two_surfaces();
    repo.remove("prompts/triage/route.md");
    repo.commit("drop triage prompt");
    let json = repo.diff_json(&["--base", "main"]);
    let c = change(&json, "prompts/triage/route.md");
    assert_eq!(c["status"], "deleted");
    assert_eq!(c["surfaces"], json!(["triage"]));
    let text = repo.run(&["diff", "--base", "main", "--color", "never"]);
    assert_contains(&text.stdout, "-Route {{ ticket }}.");
}

#[test]
fn paths_with_spaces_and_unicode_are_byte_exact() {
    let repo = two_surfaces();
    let path = "prompts/support/ünïcödé dir/a b\u{301}.md";
    repo.write(path, "Hi {{ name }}\n");
    repo.commit("odd path");
    let json = repo.diff_json(&["--base", "main"]);
    assert_eq!(change(&json, path)["status"], "added");
}

#[test]
fn binary_and_non_utf8_files_are_reported_not_diffed() {
    let repo = two_surfaces();
    repo.write(
        "prompts/support/logo.md",
        [0x89u8, b'P', b'N', b'G', 0, 1, 2, 3],
    )
    .write("prompts/support/latin1.md", b"caf\xe9 {{ x }}\n");
    repo.commit("odd contents");
    let json = repo.diff_json(&["--base", "main"]);
    assert_eq!(change(&json, "prompts/support/logo.md")["kind"], "binary");
    assert_eq!(
        change(&json, "prompts/support/latin1.md")["kind"],
        "not-utf8"
    );
    let text = repo.run(&["diff", "--base", "main", "--color", "never"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_contains(&text.stdout, "absent → binary file, 8 bytes");
    assert_contains(&text.stdout, "absent → not UTF-8 text, 13 bytes");
}

#[test]
fn symlinks_and_submodules_under_a_glob_are_reported_not_followed() {
    let sub = TestRepo::new();
    sub.write("prompts/inner.md", "inner {{ x }}\n");
    sub.commit("sub");
    let repo = two_surfaces();
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("prompts/support/link.md"))
        .expect("symlink");
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.path().to_str().expect("path"),
        "prompts/support/vendored.md",
    ]);
    repo.commit("link and submodule");
    let json = repo.diff_json(&["--base", "main"]);
    assert_eq!(change(&json, "prompts/support/link.md")["kind"], "symlink");
    assert_eq!(
        change(&json, "prompts/support/vendored.md")["kind"],
        "submodule"
    );
    let text = repo.run(&["diff", "--base", "main", "--color", "never"]);
    assert!(
        text.stdout
            .contains("symlink to `/etc/passwd` (not followed)"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("root:"),
        "the link was followed: {}",
        text.stdout
    );
    assert_contains(&text.stdout, "(not entered)");
}

#[test]
fn crlf_files_diff_by_content_and_line_endings_alone_are_named() {
    let repo = two_surfaces();
    repo.write("prompts/triage/crlf.md", "one\r\ntwo\r\nthree\r\n");
    repo.commit("crlf prompt");
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.write("prompts/triage/crlf.md", "one\r\nTWO\r\nthree\r\n")
        .write("prompts/triage/route.md", "Route {{ ticket }}.\r\n");
    repo.commit("edit crlf, convert route to crlf");
    let text = repo.run(&["diff", "--base", &base, "--color", "never"]);
    assert_contains(&text.stdout, "-two\n+TWO\n");
    assert!(
        !text.stdout.contains('\r'),
        "raw CR in output: {:?}",
        text.stdout
    );
    assert_contains(&text.stdout, "line endings changed: LF → CRLF");
}

#[test]
fn merge_from_main_into_feature_shows_only_the_feature_change() {
    let repo = two_surfaces();
    repo.write(
        "prompts/support/answer.md",
        "Feature wording {{ question }}.\n",
    );
    repo.commit("feature edit");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("prompts/triage/route.md", "Main wording {{ ticket }}.\n");
    repo.commit("main edit");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    let json = repo.diff_json(&["--base", "main"]);
    assert_eq!(json["merge_base"], repo.git(&["rev-parse", "main"]));
    let paths: Vec<_> = changes(&json).iter().map(|c| c["path"].clone()).collect();
    assert_eq!(paths, vec![json!("prompts/support/answer.md")]);
}

#[test]
fn merge_commit_against_its_first_parent_shows_what_the_merge_brought() {
    let repo = two_surfaces();
    repo.write(
        "prompts/support/answer.md",
        "Feature wording {{ question }}.\n",
    );
    repo.commit("feature edit");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("src/app.py", "print('main')\n");
    repo.commit("unrelated main edit");
    repo.git(&["merge", "-q", "--no-ff", "--no-edit", "feature"]);
    let json = repo.diff_json(&["--base", "HEAD^1", "--head", "HEAD"]);
    let paths: Vec<_> = changes(&json).iter().map(|c| c["path"].clone()).collect();
    assert_eq!(paths, vec![json!("prompts/support/answer.md")]);
}

#[test]
fn change_to_an_included_template_affects_every_surface_including_it() {
    let repo = TestRepo::new();
    repo.write(
        "promptgate.toml",
        config(&[
            ("support", "prompts/support/*.md"),
            ("triage", "prompts/triage/*.md"),
            ("other", "prompts/other/*.md"),
        ]),
    )
    .write(
        "prompts/support/a.md",
        "{% include \"partials/tone.md\" %} {{ q }}\n",
    )
    .write(
        "prompts/triage/b.md",
        "{% include '../../partials/deep.md' %}\n",
    )
    .write("prompts/other/c.md", "nothing included\n")
    .write("partials/deep.md", "{% include './tone.md' %}\n")
    .write("partials/tone.md", "Be kind.\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("partials/tone.md", "Be kind and brief.\n");
    repo.commit("tone");
    let json = repo.diff_json(&["--base", "main"]);
    let c = change(&json, "partials/tone.md");
    assert_eq!(c["via"], "include");
    assert_eq!(c["surfaces"], json!(["support", "triage"]));
    assert_eq!(json["surfaces"], json!(["support", "triage"]));
}

#[test]
fn deleted_include_still_affects_the_surface_that_used_it() {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(&[("support", "prompts/*.md")]))
        .write("prompts/a.md", "{% include 'partials/x.md' %}\n")
        .write("partials/x.md", "x\n");
    repo.commit("base");
    repo.write("prompts/a.md", "inlined x\n")
        .remove("partials/x.md");
    repo.commit("inline");
    let json = repo.diff_json(&["--base", "HEAD~1"]);
    assert_eq!(
        change(&json, "partials/x.md")["surfaces"],
        json!(["support"])
    );
}

#[test]
fn config_changes_affect_the_surfaces_whose_settings_changed() {
    let repo = TestRepo::new();
    let base_config = "[provider.main]\nkind = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n[provider.other]\nkind = \"openai\"\nmodel = \"x\"\n\n\
        [[surface]]\nname = \"a\"\nprompts = [\"p/a/*.md\"]\nprovider = \"main\"\ntier = \"self\"\ngate = false\n\n\
        [[surface]]\nname = \"b\"\nprompts = [\"p/b/*.md\"]\nprovider = \"other\"\ntier = \"self\"\ngate = false\n\n\
        [[surface]]\nname = \"c\"\nprompts = [\"p/c/*.md\"]\nprovider = \"other\"\ntier = \"council\"\ngate = false\n";
    repo.write("promptgate.toml", base_config)
        .write("p/a/x.md", "a\n");
    repo.commit("base");
    // The model of `main` changes (surface a) and surface c's tier changes.
    let head_config = base_config
        .replace("model = \"gpt-4o-mini\"", "model = \"gpt-4.1\"")
        .replace("tier = \"council\"", "tier = \"exec\"");
    repo.write("promptgate.toml", head_config);
    repo.commit("model bump");
    let json = repo.diff_json(&["--base", "HEAD~1"]);
    let c = change(&json, "promptgate.toml");
    assert_eq!(c["via"], "config");
    assert_eq!(c["surfaces"], json!(["a", "c"]));

    repo.write(
        "promptgate.toml",
        format!("# only a comment changed\n{base_config}")
            .replace("gpt-4o-mini", "gpt-4.1")
            .replace("tier = \"council\"", "tier = \"exec\""),
    );
    repo.commit("comment");
    let json = repo.diff_json(&["--base", "HEAD~1"]);
    assert_eq!(change(&json, "promptgate.toml")["surfaces"], json!([]));
    assert_eq!(json["surfaces"], json!([]));
}

#[test]
fn a_config_added_by_the_change_makes_every_surface_new() {
    let repo = TestRepo::new();
    repo.write("README.md", "hi\n");
    repo.commit("base");
    repo.write("promptgate.toml", config(&[("s", "p/*.md")]))
        .write("p/x.md", "x\n");
    repo.commit("adopt promptgate");
    let json = repo.diff_json(&["--base", "HEAD~1"]);
    assert_eq!(json["surfaces"], json!(["s"]));
    assert_eq!(change(&json, "promptgate.toml")["status"], "added");
}

#[test]
fn config_rev_reads_the_config_from_that_revision() {
    let repo = two_surfaces();
    // The head renames the surface; --config-rev main keeps the base's names.
    repo.write(
        "promptgate.toml",
        config(&[
            ("support-v2", "prompts/support/**/*.md"),
            ("triage", "prompts/triage/*.md"),
        ]),
    )
    .write("prompts/support/answer.md", "changed\n");
    repo.commit("rename surface");
    let json = repo.diff_json(&["--base", "main", "--config-rev", "main"]);
    assert_eq!(
        change(&json, "prompts/support/answer.md")["surfaces"],
        json!(["support"])
    );
}

#[test]
fn staged_diffs_the_index_against_head_not_the_working_tree() {
    let repo = two_surfaces();
    repo.write("prompts/support/answer.md", "staged\n");
    repo.git(&["add", "prompts/support/answer.md"]);
    repo.write("prompts/triage/route.md", "unstaged\n");
    let head = repo.git(&["rev-parse", "HEAD"]);
    let json = repo.diff_json(&["--staged"]);
    assert_eq!(json["base"], head);
    assert_eq!(json["head"], serde_json::Value::Null);
    let paths: Vec<_> = changes(&json).iter().map(|c| c["path"].clone()).collect();
    assert_eq!(paths, vec![json!("prompts/support/answer.md")]);
}

#[test]
fn staged_in_a_repository_without_commits() {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(&[("s", "p/*.md")]))
        .write("p/x.md", "x\n");
    repo.git(&["add", "-A"]);
    let json = repo.diff_json(&["--staged"]);
    assert_eq!(json["base"], serde_json::Value::Null);
    assert_eq!(change(&json, "p/x.md")["status"], "added");
}

#[test]
fn staged_with_nothing_staged_is_empty() {
    let repo = two_surfaces();
    let json = repo.diff_json(&["--staged"]);
    assert_eq!(json["changes"], json!([]));
}

/// The branch tracks origin/main here, so upstream and default branch agree; a branch
/// pushed with `-u` (upstream = itself) is in tests/default_base.rs.
#[test]
fn default_base_is_the_remotes_default_branch() {
    let remote = TestRepo::new();
    remote
        .write("promptgate.toml", config(&[("s", "p/*.md")]))
        .write("p/x.md", "x\n");
    remote.commit("base");
    let clone = common::tempdir();
    common::git_in(
        &clone,
        &["clone", "-q", remote.path().to_str().expect("path"), "."],
    );
    common::git_in(
        &clone,
        &["checkout", "-q", "-b", "feature", "--track", "origin/main"],
    );
    std::fs::write(clone.join("p/x.md"), "y\n").expect("write");
    common::git_in(&clone, &["commit", "-q", "-am", "edit"]);
    let run = common::run_in(&clone, &["diff", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        json["base"],
        common::git_in(&clone, &["rev-parse", "origin/main"])
    );
    assert_eq!(changes(&json).len(), 1);
}

#[test]
fn no_default_base_is_a_usage_error() {
    let repo = two_surfaces();
    // No remote, and no local main or master to fall back on.
    repo.git(&["branch", "-m", "main", "trunk"]);
    let run = repo.run(&["diff"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "--base");
}

#[test]
fn unknown_revision_exits_4_and_names_it() {
    let repo = two_surfaces();
    let run = repo.run(&["diff", "--base", "no-such-branch"]);
    assert_eq!(run.code, 4);
    assert_contains(&run.stderr, "unknown revision `no-such-branch`");
}

#[test]
fn shallow_clone_without_the_base_commit_names_the_fix() {
    let origin = two_surfaces();
    for i in 0..3 {
        origin.write("prompts/support/answer.md", format!("v{i}\n"));
        origin.commit(&format!("edit {i}"));
    }
    let base = origin.git(&["rev-parse", "main"]);
    let clone = common::shallow_clone(origin.path(), "feature");
    let run = common::run_in(&clone, &["diff", "--base", &base]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains(&run.stderr, "fetch-depth: 0");
    assert_contains(&run.stderr, "git fetch --unshallow");

    // The base's tip fetched, but not the history joining it to the head.
    common::git_in(&clone, &["fetch", "-q", "--depth", "1", "origin", "main"]);
    let run = common::run_in(&clone, &["diff", "--base", "FETCH_HEAD"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains(&run.stderr, "no merge base");
    assert_contains(&run.stderr, "fetch-depth: 0");
}

#[test]
fn not_a_git_repository_exits_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = common::run_in(dir.path(), &["diff", "--base", "main"]);
    assert_eq!(run.code, 4);
    assert_contains(&run.stderr, "is not inside a git repository");
}

#[test]
fn malformed_config_exits_5_with_file_line_and_column() {
    let repo = two_surfaces();
    repo.write(
        "promptgate.toml",
        "[[surface]]\nname = \"s\"\nprompts = [\"p/*.md\"\n",
    );
    repo.commit("broken");
    let run = repo.run(&["diff", "--base", "main"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_contains(&run.stderr, "promptgate.toml@");
    assert_contains(&run.stderr, ":3:");
}

#[test]
fn missing_config_exits_5_and_suggests_init() {
    let repo = TestRepo::new();
    repo.write("a.md", "a\n");
    repo.commit("base");
    let run = repo.run(&["diff", "--base", "HEAD"]);
    assert_eq!(run.code, 5);
    assert_contains(&run.stderr, "promptgate init");
}

#[test]
fn glob_matching_nothing_is_a_warning() {
    let repo = two_surfaces();
    repo.write(
        "promptgate.toml",
        config(&[
            ("support", "prompts/support/**/*.md"),
            ("ghost", "prompts/ghost/*.md"),
        ]),
    )
    .write("src/app.py", "changed\n");
    repo.commit("ghost surface");
    let run = repo.run(&["diff", "--base", "main", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("`ghost` match no file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_config_file_outside_the_repository_is_read_as_a_file() {
    let repo = two_surfaces();
    repo.write("prompts/triage/route.md", "Route {{ ticket }} fast.\n");
    repo.commit("edit");
    // Elsewhere on disk: only `support` exists there, so the triage edit affects nothing.
    let outside = tempfile::tempdir().expect("tempdir");
    let path = outside.path().join("other.toml");
    std::fs::write(&path, config(&[("support", "prompts/support/**/*.md")])).expect("write");
    let json = repo.diff_json(&["--base", "main", "--config", path.to_str().expect("utf-8")]);
    assert_eq!(json["surfaces"], json!([]), "{json:#}");
    let with_own = repo.diff_json(&["--base", "main"]);
    assert_eq!(with_own["surfaces"], json!(["triage"]));
}
