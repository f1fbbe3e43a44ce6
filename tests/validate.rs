//! `promptgate validate` and `promptgate init` on real files: what passes, and every kind
//! of bad input with its location and exit code.

mod common;

use common::{assert_contains, TestRepo};

/// A repo initialised with `promptgate init` (valid as written).
fn initialised() -> TestRepo {
    let repo = TestRepo::new();
    let run = repo.run(&["init"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    repo
}

fn read(repo: &TestRepo, path: &str) -> String {
    std::fs::read_to_string(repo.path().join(path)).expect("read")
}

#[test]
fn init_writes_a_surface_that_validates() {
    let repo = initialised();
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("1 surface(s), 1 prompt file(s), 2 case(s): ok"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn init_never_overwrites_without_force() {
    let repo = initialised();
    repo.write("promptgate.toml", "# mine\n");
    let run = repo.run(&["init"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("already exists") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&repo, "promptgate.toml"), "# mine\n");
    assert_eq!(repo.run(&["init", "--force"]).code, 0);
    assert_ne!(read(&repo, "promptgate.toml"), "# mine\n");
}

#[test]
fn malformed_toml_points_at_file_line_and_column() {
    let repo = initialised();
    repo.write(
        "promptgate.toml",
        "[gate]\nrepeat = 3\nsignificance = = 0.05\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(&run.stderr, "error: promptgate.toml:3:");
    assert_contains(&run.stderr, "significance = = 0.05");
}

#[test]
fn unknown_key_is_named_with_its_place_and_the_valid_keys() {
    let repo = initialised();
    let config = read(&repo, "promptgate.toml")
        .replace("max_drop = 0.02", "max_drop = 0.02\ncolour = \"red\"");
    repo.write("promptgate.toml", &config);
    let line = config
        .lines()
        .position(|l| l.starts_with("colour"))
        .expect("line")
        + 1;
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stderr
            .contains(&format!("promptgate.toml:{line}:1: unknown field `colour`")),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, "min_pass_rate");
}

#[test]
fn gated_surface_without_min_pass_rate_is_an_error() {
    let repo = initialised();
    let config = read(&repo, "promptgate.toml");
    let without: String = config
        .lines()
        .filter(|l| !l.starts_with("min_pass_rate"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("promptgate.toml", without);
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stderr
            .contains("surface `support-answer` is gated but has no `min_pass_rate`"),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, "help: thresholds are never implied");
}

#[test]
fn semantic_errors_are_all_reported_at_once() {
    let repo = initialised();
    let config = read(&repo, "promptgate.toml")
        .replace("provider = \"main\"", "provider = \"mian\"")
        .replace("min_pass_rate = 0.90", "min_pass_rate = 90")
        .replace("significance = 0.05", "significance = 1.5");
    repo.write("promptgate.toml", config);
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    for expected in [
        "provider `mian`, which is not declared",
        "`min_pass_rate` must be a fraction",
        "`significance` must be between 0 and 1",
    ] {
        assert_contains(&run.stderr, expected);
    }
}

#[test]
fn glob_matching_nothing_is_a_warning_not_an_error() {
    let repo = initialised();
    let config = read(&repo, "promptgate.toml").replace(
        "prompts = [\"prompts/support/**/*.md\"]",
        "prompts = [\"prompts/support/**/*.md\", \"prompts/typo/*.md\"]",
    );
    repo.write("promptgate.toml", config);
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains(&run.stderr, "warning: promptgate.toml: prompt glob `prompts/typo/*.md` of surface `support-answer` matches no file");
}

#[test]
fn variable_missing_from_a_case_names_template_case_and_variable() {
    let repo = initialised();
    let cases = read(&repo, "evals/support.yaml").replacen("    product: Acme Cloud\n", "", 1);
    repo.write("evals/support.yaml", cases);
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(&run.stderr, "evals/support.yaml:3: template `prompts/support/answer.md` uses variable `product`, which case `reset-password` does not define");
}

#[test]
fn variable_used_only_by_an_included_template_is_checked_too() {
    let repo = initialised();
    repo.write("prompts/shared/tone.md", "Sign as {{ agent_name }}.\n");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(
        &run.stderr,
        "uses variable `agent_name`, which cases `reset-password`, `unknown-answer` do not define",
    );
}

#[test]
fn template_syntax_error_points_at_the_file_line_after_front_matter() {
    let repo = initialised();
    let prompt = read(&repo, "prompts/support/answer.md")
        .replace("Question: {{ question }}", "Question: {{ question }");
    repo.write("prompts/support/answer.md", &prompt);
    let line = prompt
        .lines()
        .position(|l| l.starts_with("Question"))
        .expect("line")
        + 1;
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(
        &run.stderr,
        format!("error: prompts/support/answer.md:{line}: syntax error"),
    );
}

#[test]
fn missing_include_is_an_error_at_the_include() {
    let repo = initialised();
    repo.remove("prompts/shared/tone.md");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(&run.stderr, "prompts/support/answer.md:6: includes `prompts/shared/tone.md`, which does not exist in the working tree");
}

#[test]
fn render_errors_name_the_case() {
    let repo = initialised();
    let prompt = read(&repo, "prompts/support/answer.md")
        .replace("{{ product }}", "{{ product | no_such_filter }}");
    repo.write("prompts/support/answer.md", prompt);
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stderr
            .contains("rendering case `reset-password` of evals/support.yaml:3"),
        "{}",
        run.stderr
    );
}

#[test]
fn chat_prompts_are_checked_per_message() {
    let repo = initialised();
    let config = read(&repo, "promptgate.toml").replace(
        "prompts = [\"prompts/support/**/*.md\"]",
        "prompts = [\"prompts/support/**/*\"]\nentry = \"prompts/support/chat.yaml\"",
    );
    repo.write("promptgate.toml", config).write(
        "prompts/support/chat.yaml",
        "temperature: 0\nmessages:\n  - role: system\n    content: You help with {{ product }}.\n  - role: user\n    content: |\n      {{ question }} ({{ locale }})\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(
        &run.stderr,
        "template `prompts/support/chat.yaml` uses variable `locale`",
    );
}

#[test]
fn several_prompt_files_need_an_entry() {
    let repo = initialised();
    repo.write("prompts/support/other.md", "Other {{ question }}\n");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert_contains(
        &run.stderr,
        "surface `support-answer` matches 2 prompt files",
    );
    assert_contains(&run.stderr, "set `entry = \"<path>\"`");
    let config = read(&repo, "promptgate.toml").replace(
        "prompts = [\"prompts/support/**/*.md\"]",
        "prompts = [\"prompts/support/**/*.md\"]\nentry = \"prompts/support/answer.md\"",
    );
    repo.write("promptgate.toml", config);
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn case_file_problems_name_file_and_line() {
    let repo = initialised();
    let config =
        read(&repo, "promptgate.toml").replace("evals/support.yaml", "evals/support.jsonl");
    repo.write("promptgate.toml", config).write(
        "evals/support.jsonl",
        "{\"id\":\"a\",\"vars\":{\"product\":\"p\",\"facts\":[],\"question\":\"q\"}}\n{\"vars\":{}}\n{\"id\":\"a\",\"vars\":{}}\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stderr
            .contains("evals/support.jsonl:2: case has no `id`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("evals/support.jsonl:3: duplicate case id `a` (first at line 1)"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_case_file_is_an_error() {
    let repo = initialised();
    repo.remove("evals/support.yaml");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stderr
            .contains("case file `evals/support.yaml` does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn rev_validates_the_committed_files_not_the_working_tree() {
    let repo = initialised();
    repo.commit("valid");
    repo.write("prompts/support/answer.md", "{{ broken");
    assert_eq!(repo.run(&["validate"]).code, 5);
    let run = repo.run(&["validate", "--rev", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn json_format_lists_diagnostics() {
    let repo = initialised();
    repo.remove("prompts/shared/tone.md");
    let run = repo.run(&["validate", "--format", "json"]);
    assert_eq!(run.code, 5);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(json["ok"], false);
    assert_eq!(json["diagnostics"][0]["file"], "prompts/support/answer.md");
    assert_eq!(json["diagnostics"][0]["line"], 6);
}

#[test]
fn symlinked_prompt_is_a_warning_and_not_followed() {
    let repo = initialised();
    std::os::unix::fs::symlink("/etc/hostname", repo.path().join("prompts/support/link.md"))
        .expect("symlink");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: prompts/support/link.md: symlink under the prompt globs"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_flag_is_a_usage_error() {
    let repo = initialised();
    let run = repo.run(&["validate", "--no-such-flag"]);
    assert_eq!(run.code, 2);
}
