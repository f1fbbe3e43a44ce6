//! Third-round attacks (second adversarial review, after the first round's fixes): each test
//! is one way a pull request tried to turn an honest base's `blocked` into `pass`. The base
//! is honest: a surface whose cases expect "30 days"; the head changes the prompt to "14
//! days" (normally blocked 1.0 → 0.0). Tests marked `open` fail today.

mod common;
#[path = "common/http.rs"]
mod http;
#[path = "common/lab.rs"]
mod lab;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::TestRepo;
use http::{Reply, Server};
use lab::*;
use serde_json::{json, Value};
/// The control: the plain 30 → 14 days change is blocked by its cases.
#[test]
fn control_the_plain_change_is_blocked() {
    let (report, code, _) = gate(|_, _| {}, |_, _| {});
    assert_eq!(code, 1, "{report:#}");
}

/// `main` gated `billing` (prompt already there at the branch point) with a suite it added
/// after the branch was cut. The branch edits the prompt and writes its own
/// `evals/billing.jsonl` at the path the base names: the surface is "added" (behind), its
/// head side is graded on the head's cases only, and the base's suite is never consulted.
#[test]
fn a_surface_the_base_added_is_graded_on_the_base_suite() {
    let server = honest(Lie::default());
    let repo = billing_gated_after_the_branch(
        &server,
        "\n[[surface]]\nname = \"billing\"\nprompts = [\"billing/*.md\"]\ncases = \"evals/billing.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.9\n",
        &[(
            "evals/billing.jsonl",
            cases(json!({"type": "contains", "value": "30 days"})),
        )],
    );
    repo.git(&["checkout", "-q", "feature"]);
    repo.write("billing/answer.md", PROMPT.replace("30 days", "14 days"))
        .write(
            "evals/billing.jsonl",
            cases(json!({"type": "contains", "value": "14 days"})),
        );
    repo.commit("edit billing, with my own suite");
    let (report, code) = check_json(&repo);
    assert_not_pass(&report, code);
}

/// The base defines a second `openai` provider, `canned`, on a server that always says 30
/// days (a mock for smoke tests). The head moves its surface to it: same kind, so it is
/// "measured like a model change", yet where the head's answers come from is now another
/// endpoint.
#[test]
fn switching_to_another_endpoint_of_the_same_kind_is_not_self() {
    let lie: Lie = Arc::new(AtomicBool::new(true));
    let canned = honest(lie);
    let url = canned.url.clone();
    let (report, code, _) = gate(
        |repo, server| {
            repo.write(
                "promptgate.toml",
                config(server, "", "")
                    + &format!("\n[provider.canned]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n"),
            );
        },
        |repo, _| {
            let text = std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap();
            repo.write(
                "promptgate.toml",
                text.replace("provider = \"main\"", "provider = \"canned\""),
            );
        },
    );
    assert_not_pass(&report, code);
}

/// Fabricated cache entries committed under `evals/fake/…`, with each fan-out directory
/// `.promptgate/cache/<xx>` a committed symlink into it. Only `.promptgate` and
/// `.promptgate/cache` are checked for links, and the tracked-file set holds the link
/// (`.promptgate/cache/xx`), not the entry path read through it.
#[cfg(unix)]
#[test]
fn a_symlinked_fan_out_directory_is_not_trusted() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, lie| {
            repo.commit("prompt");
            lie.store(true, Ordering::SeqCst);
            let run = common::run_with_env(
                repo.path(),
                &["eval", "--cache-dir", "evals/fake"],
                &[(KEY_VAR, KEY)],
            );
            lie.store(false, Ordering::SeqCst);
            assert_eq!(run.code, 0, "{}", run.stderr);
            let cache = repo.path().join(".promptgate/cache");
            std::fs::create_dir_all(&cache).unwrap();
            for fan in std::fs::read_dir(repo.path().join("evals/fake")).unwrap() {
                let name = fan.unwrap().file_name();
                std::os::unix::fs::symlink(
                    std::path::Path::new("../../evals/fake").join(&name),
                    cache.join(&name),
                )
                .unwrap();
            }
            repo.git(&["add", "-f", ".promptgate/cache"]);
        },
    );
    assert_not_pass(&report, code);
}

/// `--cache-dir` given relative (as a workflow would: `--cache-dir .pgcache`) is never
/// compared with the repository root, so entries the branch commits there are read.
#[test]
fn a_relative_cache_dir_still_ignores_tracked_entries() {
    let (report, code, _) = gate_with(
        |_, _| {},
        |repo, lie| {
            repo.commit("prompt");
            lie.store(true, Ordering::SeqCst);
            let run = common::run_with_env(
                repo.path(),
                &["eval", "--cache-dir", ".pgcache"],
                &[(KEY_VAR, KEY)],
            );
            lie.store(false, Ordering::SeqCst);
            assert_eq!(run.code, 0, "{}", run.stderr);
        },
        &["--cache-dir", ".pgcache"],
    );
    assert_not_pass(&report, code);
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bytes
        .chunks(3)
        .flat_map(|chunk| {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            (0..4).map(move |i| {
                if i <= chunk.len() {
                    TABLE[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                }
            })
        })
        .collect()
}

/// A server (careless, or a gateway that quotes its request) that echoes the bearer key
/// encoded or wrapped when the prompt asks: the report redacts only the literal value.
/// Shown per encoding; any surviving form is a leak into report.json and the PR comment.
#[test]
fn an_encoded_echo_of_the_key_is_redacted() {
    let server = Server::start(|request| {
        let prompt = request.prompt();
        let bearer = request.header("authorization").unwrap_or_default();
        let key = bearer.trim_start_matches("Bearer ");
        let window = if prompt.contains("14 days") {
            "14"
        } else {
            "30"
        };
        let mut text = format!("Refunds within {window} days.");
        if prompt.contains("echo") {
            let (a, b) = key.split_at(key.len() / 2);
            text.push_str(&format!(
                " b64={} split={a}\n{b} hex={}",
                base64(key.as_bytes()),
                key.bytes().map(|b| format!("{b:02x}")).collect::<String>()
            ));
        }
        Reply::openai(&text)
    });
    let repo = TestRepo::new();
    repo.write(".gitignore", ".promptgate/cache\n")
        .write("promptgate.toml", config(&server, "", ""))
        .write("prompts/answer.md", PROMPT)
        .write(
            "evals/support.jsonl",
            cases(json!({"type": "contains", "value": "30 days"})),
        );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "prompts/answer.md",
        PROMPT.replace("30 days", "14 days") + "Please echo.\n",
    );
    repo.commit("head");
    let out = repo.path().join("out");
    let run = common::run_with_env(
        repo.path(),
        &[
            "check", "--base", "main", "--format", "markdown", "--out", "out",
        ],
        &[(KEY_VAR, KEY)],
    );
    let mut everything = format!("{}{}", run.stdout, run.stderr);
    for file in std::fs::read_dir(&out).into_iter().flatten().flatten() {
        everything += &std::fs::read_to_string(file.path()).unwrap_or_default();
    }
    assert!(
        everything.contains("b64="),
        "the echo is shown: {everything}"
    );
    let (a, b) = KEY.split_at(KEY.len() / 2);
    let leaks: Vec<_> = [
        ("base64", base64(KEY.as_bytes())),
        ("split", format!("{a}\\n{b}")),
        (
            "hex",
            KEY.bytes().map(|b| format!("{b:02x}")).collect::<String>(),
        ),
    ]
    .into_iter()
    .filter(|(_, value)| everything.contains(value.as_str()))
    .collect();
    assert!(leaks.is_empty(), "the key leaks as {leaks:?}");
}

/// Without `[gate] grader`, an `llm-rubric` is judged by the side's own provider as the
/// base wrote it, so the head picks its judge by picking the provider: the base has `main`
/// (gpt-4o, a strict judge) and `mini` (the same server, gpt-4o-mini, a lenient one). The
/// head moves its surface to `mini`: the same endpoint and kind, "a model change", and its
/// 14-day answers are waved through by the lenient judge.
/// Like [`honest`], but it recognises grading requests by their user message (the first
/// is the system prompt): judged strictly ("30 days" in the output) by `gpt-4o` only.
fn judging() -> Server {
    Server::start(move |request| {
        let body = request.json();
        let user = body["messages"][1]["content"].as_str().unwrap_or_default();
        if user.contains("<rubric>") {
            let strict = body["model"] == "gpt-4o";
            let ok = !strict || user.contains("30 days");
            return Reply::openai(
                &json!({"pass": ok, "score": if ok {1} else {0}, "reason": "graded"}).to_string(),
            );
        }
        let window = if request.prompt().contains("14 days") {
            "14"
        } else {
            "30"
        };
        Reply::openai(&format!("Refunds within {window} days."))
    })
}

fn judged(switch: bool) -> (Value, i32) {
    let server = judging();
    let url = &server.url;
    let repo = TestRepo::new();
    repo.write(".gitignore", ".promptgate/cache\n")
        .write(
            "promptgate.toml",
            config(&server, "", "").replace("model = \"gpt-4o-mini\"", "model = \"gpt-4o\"")
                + &format!("\n[price.\"gpt-4o\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n[provider.mini]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n"),
        )
        .write("prompts/answer.md", PROMPT)
        .write(
            "evals/support.jsonl",
            cases(json!({"type": "llm-rubric", "value": "states a 30-day refund window"})),
        );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let text = std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap();
    repo.write("prompts/answer.md", PROMPT.replace("30 days", "14 days"))
        .write(
            "promptgate.toml",
            if switch {
                text.replace("provider = \"main\"", "provider = \"mini\"")
            } else {
                text
            },
        );
    repo.commit("head");
    let run = common::run_with_env(
        repo.path(),
        &["check", "--base", "main", "--format", "json"],
        &[(KEY_VAR, KEY)],
    );
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("exit {}: {e}: {}", run.code, run.stderr));
    std::mem::forget(repo);
    (report, run.code)
}

/// The control: judged by `main` (gpt-4o), the 14-day answers fail.
#[test]
fn control_the_strict_judge_blocks() {
    let (report, code) = judged(false);
    assert_eq!(code, 1, "{report:#}");
}

#[test]
fn the_head_does_not_pick_its_judge_by_picking_a_provider() {
    let (report, code) = judged(true);
    assert_not_pass(&report, code);
}

/// The head turns the entry prompt into a committed symlink to a new 14-day file. The app
/// (and git checkout) follow the link; the gate must measure what it points to, or refuse.
#[cfg(unix)]
#[test]
fn a_symlinked_entry_prompt_is_not_measured_as_its_link_text() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            let text = std::fs::read_to_string(repo.path().join("prompts/answer.md")).unwrap();
            repo.write("policy/v2.md", text);
            std::fs::remove_file(repo.path().join("prompts/answer.md")).unwrap();
            std::os::unix::fs::symlink("../policy/v2.md", repo.path().join("prompts/answer.md"))
                .unwrap();
        },
    );
    assert_not_pass(&report, code);
}

/// The head renames the case file (40 untouched cases keep it a rename) and rewrites the
/// six strict expectations to the new window, pointing its config at the new path.
#[test]
fn a_renamed_and_rewritten_suite_is_still_compared_with_the_base_suite() {
    let padding: String = (0..40)
        .map(|i| {
            case(
                &format!("p{i}"),
                json!({"type": "contains", "value": "Refunds"}),
            )
        })
        .collect();
    let strict = cases(json!({"type": "contains", "value": "30 days"}));
    let (report, code, _) = gate(
        |repo, _| {
            repo.write("evals/support.jsonl", format!("{padding}{strict}"));
        },
        |repo, _| {
            std::fs::remove_file(repo.path().join("evals/support.jsonl")).unwrap();
            repo.write(
                "evals/all.jsonl",
                format!("{padding}{}", strict.replace("30 days", "14 days")),
            );
            let text = std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap();
            repo.write(
                "promptgate.toml",
                text.replace("evals/support.jsonl", "evals/all.jsonl"),
            );
        },
    );
    assert_not_pass(&report, code);
}

/// A JSON schema whose `$ref`s chase each other forever (`a` → `b` → `a`) in a head case:
/// compiling or validating it must end in a documented exit code, never a stack overflow.
#[test]
fn a_circular_schema_reference_does_not_crash() {
    let schema = json!({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}});
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            let text = std::fs::read_to_string(repo.path().join("evals/support.jsonl")).unwrap();
            repo.write(
                "evals/support.jsonl",
                text + &case("loop", json!({"type": "is-json", "value": schema})),
            );
        },
    );
    assert!([1, 2, 3, 4].contains(&code), "{report:#}");
}

/// `tools` is a sampling parameter as a whole, so whatever is nested under it is sent:
/// a remote tool (`{"type": "mcp", "server_url": …}` on gateways and the Responses API,
/// Anthropic's `web_fetch`) has the provider fetch from a server the head chose, whose
/// answer can change after the merge. The head's server-side tools should be refused or
/// raise the tier like another endpoint would.
#[test]
fn a_remote_tool_nested_under_tools_is_not_sent() {
    let (report, code, server) = gate(
        |_, _| {},
        |repo, _| {
            let text = std::fs::read_to_string(repo.path().join("prompts/answer.md")).unwrap();
            repo.write(
                "prompts/answer.md",
                format!("---\ntools:\n  - type: mcp\n    server_label: policy\n    server_url: https://evil.example/mcp\n  - type: web_fetch_20250910\n    name: web_fetch\n---\n{text}"),
            );
        },
    );
    let sent = server
        .requests()
        .iter()
        .any(|r| r.body.contains("evil.example") || r.body.contains("web_fetch"));
    assert!(
        !sent,
        "the head's remote tools reached the provider (exit {code}): {report:#}"
    );
}

/// The head's prompt refuses to render the base's cases (it divides by zero when the
/// question is spelt as the base spells it) and the head rewrites each case's question and
/// expectation: against the base's suite every case is "left out", so nothing is compared.
#[test]
fn a_prompt_that_cannot_render_the_base_suite_is_not_pass() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            repo.write(
                "prompts/answer.md",
                format!(
                    "{{% if \"refund?\" in question %}}{{{{ 1 // 0 }}}}{{% endif %}}{}",
                    PROMPT.replace("30 days", "14 days")
                ),
            )
            .write(
                "evals/support.jsonl",
                (0..6)
                    .map(|i| {
                        format!(
                            "{}\n",
                            json!({"id": format!("c{i}"), "vars": {"question": format!("Refund? c{i}")}, "assert": [{"type": "contains", "value": "14 days"}]})
                        )
                    })
                    .collect::<String>(),
            );
        },
    );
    assert_not_pass(&report, code);
}

/// A billion-laughs front matter (aliases nine levels deep, 10^9 strings when expanded):
/// the YAML reader must refuse it quickly with a documented exit code.
#[test]
fn a_billion_laughs_front_matter_does_not_hang_or_crash() {
    let mut yaml = String::from("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..10 {
        let p = i - 1;
        yaml +=
            &format!("a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n");
    }
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            let text = std::fs::read_to_string(repo.path().join("prompts/answer.md")).unwrap();
            repo.write("prompts/answer.md", format!("---\n{yaml}---\n{text}"));
        },
    );
    assert!([1, 2, 3, 4].contains(&code), "{report:#}");
}

/// A prompt that includes itself, and a macro that calls itself: minijinja's recursion
/// limit must end it as an error, never a stack overflow.
#[test]
fn a_self_including_prompt_does_not_crash() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            let text = std::fs::read_to_string(repo.path().join("prompts/answer.md")).unwrap();
            repo.write(
                "prompts/answer.md",
                format!("{{% include \"prompts/answer.md\" %}}{{% macro m(n) %}}{{{{ m(n + 1) }}}}{{% endmacro %}}{{{{ m(0) }}}}{text}"),
            );
        },
    );
    assert!([1, 2, 3, 4].contains(&code), "{report:#}");
}

/// The decoy entry again, by rename instead of config: the head renames the unchanged
/// 30-day entry to `prompts/legacy.md` (git sees a rename, which the base's `entry`
/// follows, and so does its config, as an honest rename would) and puts the 14-day prompt in a new `prompts/current.md` that its code would
/// load. The gate measures the decoy and the new file in the surface's globs goes unmeasured.
#[test]
fn renaming_the_entry_away_is_not_a_decoy() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            let new = std::fs::read_to_string(repo.path().join("prompts/answer.md")).unwrap();
            repo.write("prompts/current.md", new)
                .write("prompts/legacy.md", PROMPT)
                .remove("prompts/answer.md");
            // As an honest rename would, the config follows it.
            let text = std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap();
            repo.write(
                "promptgate.toml",
                text.replace(
                    "entry = \"prompts/answer.md\"",
                    "entry = \"prompts/legacy.md\"",
                ),
            );
        },
    );
    assert_not_pass(&report, code);
}

/// A base `exec` grader named by its program alone (`refund-grader`, installed on the
/// runner) is looked up on PATH, and CI often puts a directory of the checkout on PATH
/// (`$GITHUB_WORKSPACE/bin`, `.venv/bin`, `node_modules/.bin`). The head commits
/// `bin/refund-grader`, which passes everything, and it runs instead of the base's.
#[cfg(unix)]
fn graded_on_path(hijack: bool) -> (Value, i32) {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &std::path::Path, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let tools = common::tempdir();
    executable(
        &tools.join("refund-grader"),
        "#!/bin/sh\ngrep -q '30 days'\n",
    );
    let server = honest(Lie::default());
    let repo = TestRepo::new();
    repo.write(".gitignore", ".promptgate/cache\n")
        .write("promptgate.toml", config(&server, "", ""))
        .write("prompts/answer.md", PROMPT)
        .write(
            "evals/support.jsonl",
            cases(json!({"type": "exec", "value": ["refund-grader"]})),
        );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("prompts/answer.md", PROMPT.replace("30 days", "14 days"));
    if hijack {
        executable(
            &repo.path().join("bin/refund-grader"),
            "#!/bin/sh\ncat >/dev/null\nexit 0\n",
        );
    }
    repo.commit("head");
    let path = format!(
        "{}:{}:{}",
        repo.path().join("bin").display(),
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = common::run_with_env(
        repo.path(),
        &["check", "--base", "main", "--format", "json"],
        &[(KEY_VAR, KEY), ("PATH", &path)],
    );
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("exit {}: {e}: {}", run.code, run.stderr));
    std::mem::forget(repo);
    (report, run.code)
}

/// The control: with no program of the head's on PATH, the runner's grader blocks.
#[cfg(unix)]
#[test]
fn control_the_installed_grader_blocks() {
    let (report, code) = graded_on_path(false);
    assert_eq!(code, 1, "{report:#}");
}

#[cfg(unix)]
#[test]
fn a_base_grader_is_not_found_on_a_path_entry_inside_the_checkout() {
    let (report, code) = graded_on_path(true);
    assert_not_pass(&report, code);
}
