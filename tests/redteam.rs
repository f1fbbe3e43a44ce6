//! Second-round attacks from an adversarial review: each test is one way a pull request
//! tried to turn an honest base's `blocked` into `pass`, run its own code, reach a server of
//! its choosing or crash the gate. The base is honest: a surface whose cases expect "30
//! days"; the head changes the prompt to "14 days" (normally blocked 1.0 → 0.0). Each test
//! failed before its fix and states the behaviour the SPEC asks for.

mod common;
#[path = "common/http.rs"]
mod http;
#[path = "common/lab.rs"]
mod lab;

use std::sync::atomic::Ordering;

use common::TestRepo;

use lab::*;
use serde_json::json;

/// The control: the plain 30 → 14 days change is blocked by its cases.
#[test]
fn control_the_plain_change_is_blocked() {
    let (report, code, _) = gate(|_, _| {}, |_, _| {});
    assert_eq!(code, 1, "{report:#}");
}
/// A command the base defines (an `exec` grader `python3 graders/refund.py`) runs the
/// script from the checked-out head: the head rewrites the script, which then passes
/// everything (and could read /proc/$PPID/environ and post the key anywhere).
#[test]
fn a_base_command_runs_the_heads_version_of_its_script() {
    let (report, code, _) = gate(
        |repo, _| {
            repo.write(
                "graders/refund.py",
                "import sys\nsys.exit(0 if '30 days' in sys.stdin.read() else 1)\n",
            )
            .write(
                "evals/support.jsonl",
                cases(json!({"type": "exec", "value": ["python3", "graders/refund.py"]})),
            );
        },
        |repo, _| {
            repo.write(
                "graders/refund.py",
                "import sys\nsys.stdin.read()\nsys.exit(0)\n",
            );
        },
    );
    assert_not_pass(&report, code);
}

/// `check` ignores `[gate] grader`: rubrics are graded by the surface's own provider, with
/// the model the head configures, so the head picks its own judge.
#[test]
fn check_grades_rubrics_with_the_gate_grader() {
    let (report, code, server) = gate(
        |repo, server| {
            repo.write(
                "promptgate.toml",
                config(
                    server,
                    "",
                    &format!("grader = \"judge\"\n\n[provider.judge]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o\"\napi_key_env = \"{KEY_VAR}\"\n", server.url),
                ),
            )
            .write(
                "evals/support.jsonl",
                cases(json!({"type": "llm-rubric", "value": "States refunds within 30 days"})),
            );
        },
        |_, _| {},
    );
    let judged_by_grader = server
        .requests()
        .iter()
        .any(|r| r.json()["model"] == "gpt-4o");
    assert!(judged_by_grader, "the configured grader was never called");
    assert_not_pass(&report, code);
}

/// The head points its surface at another provider the base defines, here a stub `exec`
/// provider that always answers "30 days": tier self, pass. Where answers come from is
/// the base's to decide; a switch of provider (at least of kind) must not be `self`.
#[test]
fn switching_the_surface_to_a_base_stub_provider_is_not_self() {
    let (report, code, _) = gate(
        |repo, server| {
            repo.write(
                "promptgate.toml",
                config(server, "", "")
                    + "\n[provider.stub]\nkind = \"exec\"\ncommand = [\"echo\", \"Refunds within 30 days.\"]\n\n\
                       [[surface]]\nname = \"demo\"\nprompts = [\"demo/*.md\"]\ncases = \"evals/demo.jsonl\"\nprovider = \"stub\"\ntier = \"self\"\nmin_pass_rate = 0.5\n",
            )
            .write("demo/a.md", "hello {{ question }}\n")
            .write("evals/demo.jsonl", case("d", json!({"type": "contains", "value": "Refunds"})));
        },
        |repo, _| {
            let text =
                std::fs::read_to_string(repo.path().join("promptgate.toml")).unwrap_or_default();
            repo.write(
                "promptgate.toml",
                text.replacen("provider = \"main\"\ntier", "provider = \"stub\"\ntier", 1),
            );
        },
    );
    assert_not_pass(&report, code);
}

/// Cache entries committed under another path, with `.promptgate` a committed symlink to
/// it: nothing under `.promptgate/cache` is tracked, so the fabricated answers are read.
#[test]
fn a_symlinked_cache_directory_is_not_trusted() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, lie| {
            repo.commit("prompt");
            lie.store(true, Ordering::SeqCst);
            let run = common::run_with_env(
                repo.path(),
                &["eval", "--cache-dir", "evals/cd/cache"],
                &[(KEY_VAR, KEY)],
            );
            lie.store(false, Ordering::SeqCst);
            assert_eq!(run.code, 0, "{}", run.stderr);
            #[cfg(unix)]
            std::os::unix::fs::symlink("evals/cd", repo.path().join(".promptgate"))
                .unwrap_or_else(|e| panic!("symlink: {e}"));
        },
    );
    assert_not_pass(&report, code);
}

/// A partial included by `support` that another surface's globs also match: the change
/// set maps it to that surface only (`Via::Prompt` returns before includes are looked
/// at), so `support` is never measured.
#[test]
fn a_partial_matched_by_another_surface_still_affects_its_includer() {
    let (report, code, _) = gate(
        |repo, server| {
            repo.write(
                "promptgate.toml",
                config(server, "", "")
                    + "\n[[surface]]\nname = \"shared-snippets\"\nprompts = [\"shared/*.md\"]\ntier = \"self\"\ngate = false\n",
            )
            .write("shared/policy.md", "Policy: refunds within 30 days.\n")
            .write(
                "prompts/answer.md",
                "{% include \"shared/policy.md\" %}\nQ: {{ question }}\n",
            );
        },
        |repo, _| {
            repo.write("shared/policy.md", "Policy: refunds within 14 days.\n");
        },
    );
    assert_not_pass(&report, code);
}

/// Only additions: six cases expecting the new "14 days" (fixes by construction) and 54
/// easy ones. Every case of the base's suite regresses (head 0% vs base 100% against the
/// suite as it stood on base), yet min_pass_rate, max_drop and McNemar hold: tier self.
#[test]
fn added_cases_cannot_cancel_the_base_suites_regressions() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            let mut text = std::fs::read_to_string(repo.path().join("evals/support.jsonl"))
                .unwrap_or_default();
            for i in 0..6 {
                text += &case(
                    &format!("new{i}"),
                    json!({"type": "contains", "value": "14 days"}),
                );
            }
            for i in 0..54 {
                text += &case(
                    &format!("pad{i}"),
                    json!({"type": "contains", "value": "Refunds within"}),
                );
            }
            repo.write("evals/support.jsonl", text);
        },
    );
    assert_not_pass(&report, code);
}

/// An expectation swapped for a longer but looser one (`contains "30 days"` →
/// `contains "Refunds within"`) is not called a weakening (only a shorter needle is).
#[test]
fn a_longer_but_looser_expectation_is_not_self() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            repo.write(
                "evals/support.jsonl",
                cases(json!({"type": "contains", "value": "Refunds within"})),
            );
        },
    );
    assert_not_pass(&report, code);
}

/// The tail is the head's hardest cases by the head's `difficulty`: two added cases of
/// difficulty 100 that pass replace the hard case that regressed.
#[test]
fn the_tail_is_not_the_heads_to_choose() {
    let (report, code, _) = gate(
        |repo, server| {
            repo.write(
                "promptgate.toml",
                config(server, "", "").replace(
                    "max_drop = 0.05",
                    "max_drop = 0.15\ntail_min_pass_rate = 0.6",
                ),
            );
            let mut text = String::new();
            for i in 0..9 {
                text += &format!(
                    "{}\n",
                    json!({"id": format!("c{i}"), "vars": {"question": "q"}, "difficulty": 1, "assert": [{"type": "contains", "value": "Refunds within"}]})
                );
            }
            text += &format!(
                "{}\n",
                json!({"id": "hard", "vars": {"question": "q"}, "difficulty": 9, "assert": [{"type": "contains", "value": "30 days"}]})
            );
            repo.write("evals/support.jsonl", text);
        },
        |repo, _| {
            let mut text = std::fs::read_to_string(repo.path().join("evals/support.jsonl"))
                .unwrap_or_default();
            for i in 0..2 {
                text += &format!(
                    "{}\n",
                    json!({"id": format!("x{i}"), "vars": {"question": "q"}, "difficulty": 100, "assert": [{"type": "contains", "value": "Refunds within"}]})
                );
            }
            repo.write("evals/support.jsonl", text);
        },
    );
    assert_not_pass(&report, code);
}

/// A 600 KB prompt with a chain of 100,000 filters overflows the stack (exit 134, no
/// report) in validate, check and the hooks.
#[test]
fn a_long_filter_chain_does_not_crash() {
    let server = honest(Lie::default());
    let repo = TestRepo::new();
    repo.write("promptgate.toml", config(&server, "", ""))
        .write(
            "prompts/answer.md",
            format!("{{{{ question{} }}}}\n", "|upper".repeat(100_000)),
        )
        .write(
            "evals/support.jsonl",
            cases(json!({"type": "contains", "value": "30 days"})),
        );
    repo.commit("base");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
}

/// Prices match by the longest model-name prefix, so `o3-pro` is priced as `o3` (10×
/// too cheap) and passes under `[gate] max_cost_usd`, where `o1-pro` is refused.
#[test]
fn a_premium_variant_is_not_priced_as_its_family() {
    let (report, code, _) = gate(
        |_, _| {},
        |repo, _| {
            repo.write(
                "prompts/answer.md",
                format!("---\nmodel: o3-pro\n---\n{PROMPT}"),
            );
        },
    );
    assert_eq!(code, 4, "{report:#}");
}

/// The change set maps files with the head's and the merge base's configs only, never the
/// base branch's: a prompt that `main` put under a gated council surface after the branch
/// was cut is edited without any eval, at tier self.
#[test]
fn the_base_branchs_surfaces_map_the_change() {
    let server = honest(Lie::default());
    let repo = billing_gated_after_the_branch(
        &server,
        "\n[[surface]]\nname = \"billing\"\nprompts = [\"billing/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"council\"\nmin_pass_rate = 0.9\n\n[tier.council]\napprovers = [\"acme/billing\"]\nmin_approvals = 1\n",
        &[],
    );
    repo.git(&["checkout", "-q", "feature"]);
    repo.write("billing/answer.md", PROMPT.replace("30 days", "14 days"));
    repo.commit("edit billing");
    let (report, code) = check_json(&repo);
    assert_not_pass(&report, code);
}
