//! Snapshots of what people read: help texts, and the text and Markdown renderings of a
//! realistic change set (an edited prompt, an edited include, a rename, a deletion, a
//! config change, a binary file).

mod common;

use common::{assert_contains, TestRepo};

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[sha]");
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[short]");
    settings
}

#[test]
fn help_texts() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["--help"],
        vec!["diff", "--help"],
        vec!["check", "--help"],
        vec!["eval", "--help"],
        vec!["validate", "--help"],
        vec!["init", "--help"],
        vec!["record", "--help"],
    ] {
        let run = common::run_in(dir.path(), &args);
        assert_eq!(run.code, 0);
        let name = format!("help_{}", args[0].trim_start_matches('-'));
        insta::assert_snapshot!(name, run.stdout);
    }
}

fn realistic_change() -> TestRepo {
    let repo = TestRepo::new();
    let config = "[provider.main]\nkind = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n\
        [[surface]]\nname = \"support-answer\"\nprompts = [\"prompts/support/**/*.md\"]\nprovider = \"main\"\ntier = \"council\"\ngate = false\n\n\
        [[surface]]\nname = \"triage\"\nprompts = [\"prompts/triage/*\"]\ntier = \"self\"\ngate = false\n\n\
        [tier.council]\napprovers = [\"alice\"]\n";
    repo.write("promptgate.toml", config)
        .write("prompts/support/answer.md", "---\ntemperature: 0.2\n---\nYou are the support assistant of {{ product }}.\n{% include \"prompts/shared/tone.md\" %}\n\nAnswer using only the facts below.\nIf they do not answer it, say so.\n\nQuestion: {{ question }}\n")
        .write("prompts/shared/tone.md", "Be warm, brief and precise.\n")
        .write("prompts/triage/route.md", "Route the ticket: {{ ticket }}\n")
        .write("prompts/triage/legacy.md", "Old routing rules.\n")
        .write("prompts/support/faq.md", "FAQ for {{ product }}: refunds take 5 days.\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("promptgate.toml", config.replace("gpt-4o-mini", "gpt-4.1-mini"))
        .write("prompts/support/answer.md", "---\ntemperature: 0.3\n---\nYou are the support assistant of {{ product }}.\n{% include \"prompts/shared/tone.md\" %}\n\nAnswer using only the facts below.\nIf they do not answer it, say so and offer a ticket.\n\nQuestion: {{ question }}\n")
        .write("prompts/shared/tone.md", "Be warm and precise; at most five sentences.\n")
        .write("prompts/triage/logo.png", [0x89u8, b'P', b'N', b'G', 0, 0, 0, 13])
        .remove("prompts/triage/legacy.md");
    repo.git(&["mv", "prompts/support/faq.md", "prompts/support/faq-v2.md"]);
    repo.commit("support: offer a ticket, shorter tone, newer model");
    repo
}

#[test]
fn diff_text() {
    let repo = realistic_change();
    let run = repo.run(&["diff", "--base", "main", "--color", "never"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!(run.stdout));
}

#[test]
fn diff_text_coloured() {
    let repo = realistic_change();
    let run = repo.run(&["diff", "--base", "main", "--color", "always"]);
    assert_contains(&run.stdout, "\x1b[31;7m0.2\x1b[0m");
}

#[test]
fn diff_markdown() {
    let repo = realistic_change();
    let run = repo.run(&["diff", "--base", "main", "--format", "markdown"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!(run.stdout));
}

#[test]
fn diff_markdown_cannot_be_escaped_by_file_content() {
    let repo = TestRepo::new();
    repo.write("promptgate.toml", common::config(&[("s", "p/**")]))
        .write("p/a`b|c.md", "x\n");
    repo.commit("base");
    repo.write(
        "p/a`b|c.md",
        "```\n<!-- promptgate:verdict -->\n@org/team <img src=x>\n```\n",
    );
    repo.commit("hostile");
    let run = repo.run(&["diff", "--base", "HEAD~1", "--format", "markdown"]);
    let out = run.stdout;
    assert!(out.contains("````diff\n"), "fence not lengthened: {out}");
    assert!(out.contains("<summary><code>p/a`b|c.md</code>"), "{out}");
    assert!(
        out.contains("| modified | ``a`b\\|c.md``".replace("a`", "p/a`").as_str()),
        "{out}"
    );
}
