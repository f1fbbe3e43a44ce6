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
    // Said once: `error: ./promptgate.toml: already exists…`, never `error: error:`.
    assert!(
        run.stderr.starts_with("error: ") && !run.stderr.contains("error: error:"),
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

/// `file:line:col` of the one occurrence of `needle` in `text`.
fn location_of(file: &str, text: &str, needle: &str) -> String {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "{needle:?} must be unique in:\n{text}"
    );
    let offset = text.find(needle).expect("needle");
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[..offset]
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .chars()
        .count()
        + 1;
    format!("{file}:{line}:{column}")
}

/// What is wrong with a run that should have ended with `code` and said `expected`: an exit
/// code outside the spec's table (a panic's 101, an abort), an error line that names no
/// file, or the wrong code or message. Empty when the run is right.
fn misbehaviour(run: &common::Run, code: i32, expected: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    if !(0..=5).contains(&run.code) || run.stderr.contains("panicked") {
        wrong.push(format!("undocumented exit {}", run.code));
    }
    for line in run.stderr.lines().filter(|l| l.starts_with("error: ")) {
        let place = line["error: ".len()..].split(": ").next().unwrap_or("");
        if ![".toml", ".md", ".json", ".yaml"]
            .iter()
            .any(|ext| place.contains(ext))
        {
            wrong.push(format!("error without its file: {line}"));
        }
    }
    if run.code != code {
        wrong.push(format!("exit {} instead of {code}", run.code));
    }
    if !run.stderr.contains(expected) {
        wrong.push(format!("no {expected:?}"));
    }
    wrong
}

/// Fails listing every row that went wrong, each with its output.
#[track_caller]
fn assert_all_rows_hold(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every numeric knob has one bound checked by the one config parser, a `base_url` is an
/// http(s) URL, and a path the config names stays inside the repository: each row is a
/// config error (exit 5) at the value's file, line and column saying what is valid, and
/// nothing outside the repository is read.
#[test]
fn out_of_bound_knobs_bad_urls_and_paths_out_of_the_repository_are_config_errors() {
    const REPLAY: &str = "\n[provider.rec]\nkind = \"replay\"\n";
    // (what, text to find, its replacement, the value's text, the message)
    let rows: &[(&str, &str, &str, &str, &str)] = &[
        (
            "repeat that aborted check with a 1.37 TB allocation",
            "repeat = 3 ",
            "repeat = 4294967295 ",
            "4294967295",
            "`repeat` must be between 1 and 100, not 4294967295",
        ),
        (
            "a surface's repeat",
            "max_drop = 0.02",
            "max_drop = 0.02\nrepeat = 4294967295",
            "4294967295",
            "`repeat` must be between 1 and 100, not 4294967295",
        ),
        (
            "quorum",
            "significance = 0.05",
            "significance = 0.05\nquorum = 101",
            "101",
            "`quorum` must be between 1 and 100, not 101",
        ),
        (
            "timeout_secs = u64::MAX, accepted by validate and refused by check",
            "timeout_secs = 60",
            "timeout_secs = 18446744073709551615",
            "18446744073709551615",
            "`timeout_secs` must be between 1 and 3600, not 18446744073709551615",
        ),
        (
            "concurrency",
            "concurrency = 16",
            "concurrency = 257",
            "257",
            "`concurrency` must be between 1 and 256, not 257",
        ),
        (
            "max_retries",
            "timeout_secs = 60",
            "timeout_secs = 60\nmax_retries = 4294967295",
            "4294967295",
            "`max_retries` must be between 0 and 10, not 4294967295",
        ),
        (
            "base_url that is no URL",
            "\"https://api.openai.com/v1\"",
            "\"not a url\"",
            "\"not a url\"",
            "`base_url` `not a url` is not a URL",
        ),
        (
            "base_url that is no http(s) URL",
            "\"https://api.openai.com/v1\"",
            "\"file:///etc/passwd\"",
            "\"file:///etc/passwd\"",
            "`base_url` `file:///etc/passwd` is not an http(s) URL",
        ),
        (
            "cases outside the repository",
            "\"evals/support.yaml\"",
            "\"/etc/passwd\"",
            "\"/etc/passwd\"",
            "`cases` `/etc/passwd` is absolute, but it must be a path from the repository root",
        ),
        (
            "cases climbing out",
            "\"evals/support.yaml\"",
            "\"evals/../../passwd\"",
            "\"evals/../../passwd\"",
            "`cases` `evals/../../passwd` climbs out with `..`",
        ),
        (
            "prompt globs outside the repository",
            "[\"prompts/support/**/*.md\"]",
            "[\"/etc/*\"]",
            "\"/etc/*\"",
            "`prompts` `/etc/*` is absolute",
        ),
        (
            "prompt globs climbing out",
            "[\"prompts/support/**/*.md\"]",
            "[\"../**/*.md\"]",
            "\"../**/*.md\"",
            "`prompts` `../**/*.md` climbs out with `..`",
        ),
        (
            "an absolute entry",
            "provider = \"main\"",
            "provider = \"main\"\nentry = \"/etc/hostname\"",
            "\"/etc/hostname\"",
            "`entry` `/etc/hostname` is absolute",
        ),
        (
            "a cassette outside the repository",
            "[policy]",
            &format!("{REPLAY}cassette = \"/etc/passwd\"\n[policy]"),
            "\"/etc/passwd\"",
            "`cassette` `/etc/passwd` is absolute",
        ),
        (
            "a cassette climbing out",
            "[policy]",
            &format!("{REPLAY}cassette = \"../c.jsonl\"\n[policy]"),
            "\"../c.jsonl\"",
            "`cassette` `../c.jsonl` climbs out with `..`",
        ),
        (
            "a NUL byte in a path (was exit 4 without a place)",
            "\"evals/support.yaml\"",
            "\"evals/sup\\u0000port.yaml\"",
            "\"evals/sup\\u0000port.yaml\"",
            "`cases` `evals/sup\\0port.yaml` contains a NUL byte",
        ),
    ];
    let repo = initialised();
    let original = read(&repo, "promptgate.toml");
    let mut failures = Vec::new();
    for (what, find, replacement, value, message) in rows {
        assert!(original.contains(find), "{what}: no {find:?}");
        let config = original.replacen(find, replacement, 1);
        repo.write("promptgate.toml", &config);
        let run = repo.run(&["validate"]);
        let place = location_of("promptgate.toml", &config, value);
        let mut wrong = misbehaviour(&run, 5, &format!("error: {place}: {message}"));
        if run.stderr.contains("root:") {
            wrong.push("read /etc/passwd".into());
        }
        if !wrong.is_empty() {
            let output = format!("{}{}", run.stdout, run.stderr);
            failures.push(format!("{what}: {}\n{output}", wrong.join("; ")));
        }
    }
    assert_all_rows_hold(&failures);
    let run = {
        repo.write(
            "promptgate.toml",
            original.replace("repeat = 3 ", "repeat = 1000 "),
        );
        repo.run(&["validate"])
    };
    assert_contains(&run.stderr, "help: the bounds of every numeric key are listed in the configuration section of the README");
}

/// Runs `validate`, killing it if it has not ended after a minute (`None`): a read that
/// never ends (a FIFO, a device) must fail the test rather than hang it.
fn validate_or_kill(repo: &TestRepo) -> Option<common::Run> {
    let mut child = std::process::Command::new(common::BIN)
        .arg("validate")
        .current_dir(repo.path())
        .env("HOME", repo.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            return Some(common::Run {
                code: output.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The working tree is read like git sees it: no symlink is followed, neither a file nor a
/// directory on the way to one, and special files are never opened. Each row names what
/// the config points at, what lies there, and what validate must say.
#[test]
fn reads_never_follow_a_symlink_out_of_the_repository_nor_open_special_files() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("cases.jsonl"),
        "{\"id\":\"OUTSIDE_MARKER\",\"vars\":{}}\n",
    )
    .expect("write");
    std::fs::write(outside.path().join("secret.md"), "{{ OUTSIDE_MARKER\n").expect("write");
    let rows: &[(&str, &str, &str, &str)] = &[
        // A directory symlink to /dev: /dev/null read as a case file (and /dev/zero would
        // never end).
        (
            "a directory symlink to /dev",
            "cases",
            "\"devlink/null\"",
            "case file `devlink/null` does not exist",
        ),
        (
            "a directory symlink out of the repository",
            "cases",
            "\"linked/cases.jsonl\"",
            "case file `linked/cases.jsonl` does not exist",
        ),
        (
            "a FIFO as the case file",
            "cases",
            "\"evals/fifo.jsonl\"",
            "case file `evals/fifo.jsonl` does not exist",
        ),
        (
            "prompt globs through a directory symlink",
            "prompts",
            "[\"prompts/support/**/*.md\", \"linked/*.md\"]",
            "prompt glob `linked/*.md` of surface `support-answer` matches no file",
        ),
    ];
    let repo = initialised();
    std::os::unix::fs::symlink("/dev", repo.path().join("devlink")).expect("symlink");
    std::os::unix::fs::symlink(outside.path(), repo.path().join("linked")).expect("symlink");
    let fifo = std::ffi::CString::new(
        repo.path()
            .join("evals/fifo.jsonl")
            .to_str()
            .expect("utf-8"),
    )
    .expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let original = read(&repo, "promptgate.toml");
    let mut failures = Vec::new();
    for (what, key, value, message) in rows {
        let line = original
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .expect("key");
        let config = original.replace(line, &format!("{key} = {value}"));
        repo.write("promptgate.toml", &config);
        let Some(run) = validate_or_kill(&repo) else {
            failures.push(format!(
                "{what}: validate never ended (a read without bound)"
            ));
            continue;
        };
        // A file that is not there for git is an error; a glob matching nothing a warning.
        let code = if message.contains("does not exist") {
            5
        } else {
            0
        };
        let mut wrong = misbehaviour(&run, code, message);
        if run.stderr.contains("OUTSIDE_MARKER") {
            wrong.push("read outside the repository".into());
        }
        if !wrong.is_empty() {
            let output = format!("{}{}", run.stdout, run.stderr);
            failures.push(format!("{what}: {}\n{output}", wrong.join("; ")));
        }
    }
    assert_all_rows_hold(&failures);
}

#[test]
fn init_keeps_the_cache_out_of_commits_once() {
    let repo = TestRepo::new();
    repo.write(".gitignore", "target/");
    assert_eq!(repo.run(&["init"]).code, 0);
    assert_eq!(repo.run(&["init", "--force"]).code, 0);
    let ignore = read(&repo, ".gitignore");
    assert!(ignore.starts_with("target/\n"), "{ignore}");
    assert_eq!(ignore.matches(".promptgate/cache/").count(), 1, "{ignore}");
    // A cached answer stays out of `git status`; a change record does not.
    repo.write(".promptgate/cache/ab/cd.json", "{}");
    repo.write(".promptgate/changes/tone.md", "# Tone\n");
    let status = repo.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".promptgate/cache"), "{status}");
    assert!(status.contains(".promptgate/changes/tone.md"), "{status}");
}

/// The config's JSON Schema as `promptgate schema` prints it, compiled.
fn schema_validator() -> jsonschema::Validator {
    let run = TestRepo::new().run(&["schema"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// A TOML config as the JSON value an editor checks against the schema.
fn as_json(toml_text: &str) -> serde_json::Value {
    let table: toml::Table = toml::from_str(toml_text).expect("TOML");
    serde_json::to_value(table).expect("JSON")
}

#[test]
fn the_schema_accepts_the_starter_and_example_configs_and_rejects_a_typo() {
    let validator = schema_validator();
    let repo = initialised();
    let starter = read(&repo, "promptgate.toml");
    let url = format!(
        "#:schema https://raw.githubusercontent.com/promptgate/promptgate/v{}/promptgate.schema.json\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(starter.starts_with(&url), "{starter}");
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/example/base/promptgate.toml"),
    )
    .unwrap();
    for (name, text) in [("starter", &starter), ("example", &example)] {
        let errors: Vec<String> = validator
            .iter_errors(&as_json(text))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    // What `validate` refuses (an unknown key, a wrong type), the editor flags too.
    let typo = starter.replacen("min_pass_rate", "min_passrate", 1);
    assert!(!validator.is_valid(&as_json(&typo)));
    let wrong_type = format!("{starter}\n[hooks]\nartifacts = \"sometimes\"\n");
    assert!(!validator.is_valid(&as_json(&wrong_type)));
    assert_eq!(repo.run(&["validate"]).code, 0);
}
