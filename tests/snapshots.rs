//! Snapshots of what people read: help texts, the text and Markdown renderings of a
//! realistic change set (an edited prompt, an edited include, a rename, a deletion, a
//! config change, a binary file), and the Monday review's text, Markdown and issue body.

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
        vec!["review", "--help"],
        vec!["changelog", "--help"],
        vec!["compare", "--help"],
        vec!["experiments", "--help"],
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

/// A review of two surfaces over six weeks: one with a week without a record, two
/// regression flags traced to pull request #7 and a stealth tail; one drifting with no
/// change while the answers named a new model.
fn fixed_review() -> promptgate::ledger::review::Review {
    use promptgate::ledger::review::*;
    let weeks: Vec<String> = (44..50).map(|w| format!("2026-W{w}")).collect();
    let point = |week: &str, value: f64, model_reported: &str| Point {
        week: week.into(),
        commit: format!("{:0>40}", week.len()),
        value,
        ci_low: Some(value - 0.06),
        ci_high: Some((value + 0.04).min(1.0)),
        cases: 50,
        passed: (value * 50.0).round() as usize,
        model: "gpt-4o-mini".into(),
        model_reported: Some(model_reported.into()),
    };
    let support_values = [
        Some(0.96),
        Some(0.98),
        None,
        Some(0.98),
        Some(1.0),
        Some(0.96),
    ];
    let support = SurfaceReview {
        name: "support".into(),
        headline: Headline {
            metric: "pass_rate".into(),
            points: weeks
                .iter()
                .zip(support_values)
                .map(|(w, v)| v.map(|v| point(w, v, "gpt-4o-mini-2024-07-18")))
                .collect(),
        },
        trend: Trend {
            direction: Direction::Flat,
            slope_per_week: Some(0.001),
            p_value: Some(0.71),
            significant: false,
            change: Some(0.0),
            points: 5,
        },
        regressions: ["case-48", "case-49"]
            .iter()
            .map(|case| Flag {
                case: case.to_string(),
                since: Some(Since {
                    commit: "5d10d85a".repeat(5),
                    pr: Some(7),
                    title: "Ask for brevity".into(),
                }),
                passed_in: "1".repeat(40),
                flaky: *case == "case-49",
            })
            .collect(),
        tail: Tail {
            points: vec![Some(1.0), Some(1.0), None, Some(1.0), Some(1.0), Some(0.6)],
            stealth: true,
        },
        drift: Vec::new(),
        records_this_week: 1,
    };
    let triage_values = [0.92, 0.93, 0.92, 0.91, 0.80, 0.79];
    let triage = SurfaceReview {
        name: "triage".into(),
        headline: Headline {
            metric: "pass_rate".into(),
            points: weeks
                .iter()
                .zip(triage_values)
                .enumerate()
                .map(|(i, (w, v))| Some(point(w, v, if i < 4 { "m-2026-01" } else { "m-2026-11" })))
                .collect(),
        },
        trend: Trend {
            direction: Direction::Down,
            slope_per_week: Some(-0.028),
            p_value: Some(0.004),
            significant: true,
            change: Some(-0.13),
            points: 6,
        },
        regressions: vec![Flag {
            case: "route-12".into(),
            since: None,
            passed_in: "2".repeat(40),
            flaky: false,
        }],
        tail: Tail {
            points: vec![None; 6],
            stealth: false,
        },
        drift: vec![Drift {
            from_week: "2026-W47".into(),
            to_week: "2026-W48".into(),
            from: 0.91,
            to: 0.80,
            p_value: 0.002,
            model_reported: (Some("m-2026-01".into()), Some("m-2026-11".into())),
        }],
        records_this_week: 2,
    };
    Review {
        weeks,
        surfaces: vec![support, triage],
        incidents: vec![Incident {
            surface: "support".into(),
            kind: IncidentKind::Regression,
            text: "support: 2 case(s) fail this week that passed in the previous record (case-48, case-49); started with #7 (Ask for brevity, 5d10d85)".into(),
        }],
        suggested_experiments: vec![Experiment {
            surface: "triage".into(),
            text: "triage: it moved with no change to the surface; compare it on `candidate`, same cases".into(),
            command: Some("promptgate compare --surface triage --provider candidate".into()),
        }],
        summary: "2 surface(s) over 6 week(s) (2026-W44 to 2026-W49).".into(),
        warnings: Vec::new(),
    }
}

#[test]
fn review_text() {
    let review = fixed_review();
    insta::assert_snapshot!(promptgate::ledger::review::render::text(&review));
}

#[test]
fn review_markdown_and_issue_body() {
    use promptgate::ledger::review::render;
    let review = fixed_review();
    insta::assert_snapshot!(render::markdown(&review));
    let body = render::issue_body(&review);
    assert!(
        body.starts_with("<!-- promptgate:review 2026-W49 -->\n"),
        "{body}"
    );
    insta::assert_snapshot!(body);
}
