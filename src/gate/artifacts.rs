//! "No artifact, no review": finds the required artifacts (expected user impact, rollback
//! plan, or custom ones) as Markdown sections in the PR description or in change records, and
//! says for each whether it is written, where, or why it counts as missing. [`find`] is the
//! one section finder and heading matcher: the gate's check and the rollback drill both use
//! it, so the drill shows the very section the check accepted. The Markdown reading lives in
//! `sections` (structure) and `text` (what a line shows).

mod sections;
mod text;

use serde::{Deserialize, Serialize};

pub use sections::{is_substantive, sections, BodyJudgement, Outline, Section};
use text::{is_invisible, strip_html_comments};

/// Whether one required artifact was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactStatus {
    /// "impact" | "rollback" (or a custom name).
    pub name: String,
    pub found: bool,
    /// Where it was found: the change record's path, or "PR description".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When missing: why, in words a PR author acts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Names of the headings that hold each artifact.
#[derive(Debug, Clone)]
pub struct Headings {
    pub by_artifact: Vec<(String, Vec<String>)>,
}

impl Default for Headings {
    fn default() -> Self {
        fn owned(names: &[&str]) -> Vec<String> {
            names.iter().map(|name| name.to_string()).collect()
        }
        Headings {
            by_artifact: vec![
                (
                    "impact".to_string(),
                    owned(&["Expected user impact", "User impact", "Impact"]),
                ),
                (
                    "rollback".to_string(),
                    owned(&["Rollback plan", "Rollback"]),
                ),
            ],
        }
    }
}

impl Headings {
    /// The heading names for `artifact`; an artifact with none configured is headed by its
    /// own name (e.g. "security review").
    pub fn names_for(&self, artifact: &str) -> Vec<String> {
        self.by_artifact
            .iter()
            .find(|(name, names)| name.eq_ignore_ascii_case(artifact) && !names.is_empty())
            .map(|(_, names)| names.clone())
            .unwrap_or_else(|| vec![artifact.to_string()])
    }
}

/// One document to search: where it comes from and its Markdown.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// "PR description" or the change record's path; quoted in statuses and reasons.
    pub source: &'a str,
    pub markdown: &'a str,
}

/// What the documents hold for one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding<'a> {
    /// The first written section, in document order, and the document it is in.
    Written { source: &'a str, section: Section },
    /// No written section; why, in words a PR author acts on.
    Missing { reason: String },
}

/// Checks each required artifact against the documents with [`find`].
pub fn check(
    required: &[String],
    documents: &[Document<'_>],
    headings: &Headings,
) -> Vec<ArtifactStatus> {
    let outlines: Vec<(&str, Outline<'_>)> = documents
        .iter()
        .map(|document| (document.source, Outline::read(document.markdown)))
        .collect();
    required
        .iter()
        .map(
            |artifact| match find_in(&outlines, &headings.names_for(artifact)) {
                Finding::Written { source, .. } => found_in(artifact, source),
                Finding::Missing { reason } => ArtifactStatus {
                    name: artifact.to_string(),
                    found: false,
                    source: None,
                    reason: Some(reason),
                },
            },
        )
        .collect()
}

fn found_in(artifact: &str, source: &str) -> ArtifactStatus {
    ArtifactStatus {
        name: artifact.to_string(),
        found: true,
        source: Some(source.to_string()),
        reason: None,
    }
}

/// Finds the section headed by one of `names` in the documents, in order: the first document
/// with a written section wins, and in it the first written one. If none has one, the reason
/// names the first empty, comment-only or placeholder section found, which beats saying
/// there is no section at all.
pub fn find<'a>(documents: &[Document<'a>], names: &[String]) -> Finding<'a> {
    let outlines: Vec<(&'a str, Outline<'_>)> = documents
        .iter()
        .map(|document| (document.source, Outline::read(document.markdown)))
        .collect();
    find_in(&outlines, names)
}

fn find_in<'a>(outlines: &[(&'a str, Outline<'_>)], names: &[String]) -> Finding<'a> {
    let wanted: Vec<String> = names.iter().map(|name| normalize_heading(name)).collect();
    let mut first_unwritten: Option<String> = None;
    for (source, outline) in outlines {
        let matching = outline
            .headings()
            .filter(|(_, heading)| heading_matches(heading, &wanted));
        for (index, heading) in matching {
            match outline.judge(index) {
                BodyJudgement::Written => {
                    return Finding::Written {
                        source,
                        section: outline.section(index),
                    }
                }
                unwritten => {
                    first_unwritten
                        .get_or_insert_with(|| unwritten_reason(heading, source, &unwritten));
                }
            }
        }
    }
    let reason = first_unwritten
        .or_else(|| html_heading_reason(outlines, &wanted))
        .unwrap_or_else(|| no_section_reason(names));
    Finding::Missing { reason }
}

/// Whether a heading names the artifact: equal to one of the `wanted` names (normalized with
/// [`normalize_heading`]), never merely containing one.
fn heading_matches(heading: &str, wanted: &[String]) -> bool {
    wanted.contains(&normalize_heading(heading))
}

fn unwritten_reason(heading: &str, source: &str, judgement: &BodyJudgement) -> String {
    let visible_heading = strip_html_comments(heading);
    let heading = visible_heading.trim();
    let problem = match judgement {
        BodyJudgement::Placeholder(text) => format!("is only a placeholder ({text})"),
        BodyJudgement::CommentOnly => {
            "holds only an HTML comment, which is hidden and does not count".to_string()
        }
        BodyJudgement::DefinitionOnly => {
            "holds only a link reference definition, which is not shown and does not count"
                .to_string()
        }
        BodyJudgement::Invisible => "is empty: it holds only spaces or invisible characters \
             (such as &nbsp; or a zero-width space)"
            .to_string(),
        BodyJudgement::Empty | BodyJudgement::Written => "is empty".to_string(),
    };
    format!("section \"{heading}\" in {source} {problem}")
}

/// When the only "section" is a heading line inside an HTML block (GitHub shows it as text).
fn html_heading_reason(outlines: &[(&str, Outline<'_>)], wanted: &[String]) -> Option<String> {
    outlines.iter().find_map(|(source, outline)| {
        let (line, _) = outline
            .html_headings()
            .iter()
            .find(|(_, text)| heading_matches(text, wanted))?;
        Some(format!(
            "\"{line}\" in {source} is inside an HTML block (such as <details>), where Markdown is \
             not read, so it is not a heading: leave a blank line between the HTML tag and the heading"
        ))
    })
}

fn no_section_reason(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!(
        "no {} section in the PR description or in a .promptgate/changes/*.md record of this change",
        quoted.join(" / ")
    )
}

/// A heading reduced for comparison: case, surrounding whitespace and invisible characters,
/// emphasis markers and a trailing colon do not matter, so "**Rollback plan:**" matches
/// "Rollback plan"; neither does a comment such as "Rollback plan <!-- required -->".
fn normalize_heading(heading: &str) -> String {
    let shown: String = strip_html_comments(heading)
        .chars()
        .map(|c| if is_invisible(c) { ' ' } else { c })
        .collect();
    let words: Vec<String> = shown
        .split_whitespace()
        .map(|word| {
            word.replace(['*', '`'], "")
                .trim_matches('_')
                .to_lowercase()
        })
        .filter(|word| !word.is_empty())
        .collect();
    let joined = words.join(" ");
    joined
        .trim_end_matches(|c: char| c == ':' || c.is_whitespace())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    fn required() -> Vec<String> {
        names(&["impact", "rollback"])
    }

    fn pr(markdown: &str) -> Document<'_> {
        Document {
            source: "PR description",
            markdown,
        }
    }

    fn check_pr(markdown: &str) -> Vec<ArtifactStatus> {
        check(&required(), &[pr(markdown)], &Headings::default())
    }

    use super::sections::tests::{body_of, headings_of};

    // ---- CommonMark block structure, invisible bodies, one finder (issues 12, 13) ----

    fn rollback_in(markdown: &str) -> ArtifactStatus {
        check(&names(&["rollback"]), &[pr(markdown)], &Headings::default()).remove(0)
    }

    /// Where a heading is one by CommonMark (and on GitHub), and where it is not. Every
    /// case here was judged the other way by the hand-written block parser.
    #[test]
    fn headings_are_found_where_commonmark_puts_them() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "inside <details> without a blank line: raw HTML, not a heading",
                "<details>\n## Rollback plan\nRevert the prompt commit.\n</details>\n",
                false,
            ),
            (
                "inside a <div> HTML block",
                "<div>\n# Rollback\nRevert the prompt commit.\n</div>\n",
                false,
            ),
            (
                "in a block quote",
                "> ## Rollback plan\n> Revert the prompt commit.\n",
                true,
            ),
            (
                "in a nested block quote",
                "> > ## Rollback\n> > Revert the prompt commit.\n",
                true,
            ),
            (
                "in a block quote, lazy continuation",
                "> ## Rollback plan\n> Revert the prompt\ncommit and redeploy.\n",
                true,
            ),
            (
                "in a list item",
                "- ## Rollback plan\n  Revert the prompt commit.\n",
                true,
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(_, markdown, found)| rollback_in(markdown).found != *found)
            .map(|(what, markdown, found)| format!("{what}: {markdown:?} should be found={found}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_placeholder_in_a_quoted_section_is_named() {
        assert_eq!(
            rollback_in("> ## Rollback plan\n> TBD\n").reason.as_deref(),
            Some("section \"Rollback plan\" in PR description is only a placeholder (TBD)")
        );
    }

    #[test]
    fn a_quoted_section_ends_with_its_quote() {
        // The text after the quote is not part of the quoted section.
        assert!(!rollback_in("> ## Rollback plan\n\nRevert the prompt commit.\n").found);
        let markdown = "> ## Rollback plan\n> Revert the prompt commit.\n> ## Impact\n> Shorter.\n";
        assert_eq!(
            body_of(markdown, "Rollback plan"),
            "> Revert the prompt commit."
        );
        assert_eq!(body_of(markdown, "Impact"), "> Shorter.");
    }

    #[test]
    fn a_heading_line_inside_an_html_block_says_why_it_is_not_a_section() {
        assert_eq!(
            rollback_in("<details>\n## Rollback plan\nRevert.\n</details>\n").reason.as_deref(),
            Some("\"## Rollback plan\" in PR description is inside an HTML block (such as <details>), where Markdown is not read, so it is not a heading: leave a blank line between the HTML tag and the heading")
        );
        // With the blank line, GitHub reads what follows as Markdown: a section.
        let markdown = "<details>\n<summary>Rollback</summary>\n\n## Rollback plan\nRevert the prompt commit.\n\n</details>\n";
        assert!(rollback_in(markdown).found);
        // A written section elsewhere is simply found; an unwritten one gives its own reason.
        assert!(rollback_in("<div>\n## Rollback\n</div>\n\n## Rollback plan\nRevert.").found);
        assert_eq!(
            rollback_in("<div>\n## Rollback\n</div>\n\n## Rollback plan\nTBD")
                .reason
                .as_deref(),
            Some("section \"Rollback plan\" in PR description is only a placeholder (TBD)")
        );
    }

    #[test]
    fn a_section_in_a_list_item_ends_with_the_item() {
        assert_eq!(
            rollback_in("- ## Rollback\n  TBD\n- Revert the prompt commit.\n")
                .reason
                .as_deref(),
            Some("section \"Rollback\" in PR description is only a placeholder (TBD)")
        );
        assert_eq!(
            body_of(
                "- ## Rollback\n  Revert the prompt commit.\n- Other item\n",
                "Rollback"
            ),
            "  Revert the prompt commit."
        );
    }

    #[test]
    fn deep_nesting_is_read_without_failing() {
        let deep = format!("{} ## Rollback\nTBD\n", ">".repeat(100_000));
        assert!(!rollback_in(&deep).found);
        let mut nested = String::new();
        for depth in 1..=500 {
            nested.push_str(&"> ".repeat(depth));
            nested.push_str("# Rollback\n");
        }
        let status = rollback_in(&nested);
        assert!(!status.found);
        assert_eq!(
            status.reason.as_deref(),
            Some("section \"Rollback\" in PR description is empty")
        );
    }

    /// The drill prints the section [`find`] returns; the gate accepts what [`check`] says.
    /// Both are one finder, so they agree — here on documents where a "contains" matcher and
    /// a "first heading" rule would each have picked another section.
    #[test]
    fn find_gives_the_section_check_accepted() {
        let documents = [
            pr("## Rollback considerations\nFeature flags were ruled out.\n## Rollback\nTBD\n"),
            Document {
                source: ".promptgate/changes/a.md",
                markdown: "## Rollback plan\n<!-- how? -->\n\n## Notes\n> ## Rollback\n> Revert the prompt commit.\n\n## Rollback\nAlso written.\n",
            },
        ];
        let headings = Headings::default();
        let status = check(&names(&["rollback"]), &documents, &headings).remove(0);
        assert_eq!(status.source.as_deref(), Some(".promptgate/changes/a.md"));
        match find(&documents, &headings.names_for("rollback")) {
            Finding::Written { source, section } => {
                assert_eq!(Some(source), status.source.as_deref());
                assert_eq!(section.heading, "Rollback");
                assert_eq!(section.level, 2);
                assert_eq!(section.body, "> Revert the prompt commit.");
            }
            missing => panic!("{missing:?}"),
        }
        let unwritten = [pr("## Rollback\nTBD")];
        assert_eq!(
            find(&unwritten, &headings.names_for("rollback")),
            Finding::Missing {
                reason: check(&names(&["rollback"]), &unwritten, &headings)[0]
                    .reason
                    .clone()
                    .unwrap_or_default()
            }
        );
    }

    #[test]
    fn invisible_and_definition_only_sections_are_missing() {
        let bodies = [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}",
            "\u{FEFF}",
            "\u{00A0}",
            "\u{3000}",
            "\u{2800}",
            "&nbsp;",
            "&nbsp;&nbsp;\n\n&nbsp;",
            "&#160;",
            "&#xA0;",
            "&#8203;",
            "&#x200b;",
            "&ZeroWidthSpace;",
            "&ensp;&emsp;&thinsp;&hairsp;",
            "&zwnj;&zwj;&NoBreak;&shy;",
            "- &nbsp;",
            "> &nbsp;",
            "**&nbsp;**",
            "<p>&nbsp;</p>",
            "[1]: https://example.com/runbook",
            "[runbook]: https://example.com/runbook \"Runbook\"",
            "[a]: /a\n[b]: /b",
        ];
        let wrong: Vec<String> = bodies
            .iter()
            .filter_map(|body| {
                let markdown = format!("## Rollback plan\n{body}\n\n## Impact\nShorter.\n");
                let status = rollback_in(&markdown);
                let reason = status.reason.clone().unwrap_or_default();
                let named = reason.starts_with("section \"Rollback plan\" in PR description ");
                (status.found || !named).then(|| format!("{body:?}: {status:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn invisible_characters_around_a_placeholder_leave_a_placeholder() {
        let wrong: Vec<String> = [
            "\u{200B}TBD",
            "TBD&nbsp;",
            "&nbsp;- N/A",
            "&zwj;none\u{200B}",
        ]
        .iter()
        .filter_map(|body| {
            let status = rollback_in(&format!("## Rollback\n{body}\n"));
            let placeholder = status
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("placeholder"));
            (status.found || !placeholder).then(|| format!("{body:?}: {status:?}"))
        })
        .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn reasons_for_invisible_and_definition_only_sections() {
        assert_eq!(
            rollback_in("## Rollback\n&nbsp;\u{200B}\n").reason.as_deref(),
            Some("section \"Rollback\" in PR description is empty: it holds only spaces or invisible characters (such as &nbsp; or a zero-width space)")
        );
        assert_eq!(
            rollback_in("## Rollback\n[runbook]: https://example.com/runbook\n").reason.as_deref(),
            Some("section \"Rollback\" in PR description holds only a link reference definition, which is not shown and does not count")
        );
    }

    #[test]
    fn visible_text_next_to_invisible_characters_counts() {
        for body in [
            "Revert.&nbsp;",
            "\u{200B}Revert the prompt commit.",
            "See the [runbook].\n\n[runbook]: https://example.com/runbook",
            "![rollback steps](steps.png)",
            "<p>Revert the prompt commit.</p>",
        ] {
            let markdown = format!("## Rollback\n{body}\n");
            assert!(rollback_in(&markdown).found, "{body:?}");
        }
    }

    #[test]
    fn invisible_characters_in_a_heading_do_not_change_its_name() {
        assert!(rollback_in("## Rollback\u{200B} plan\nRevert.").found);
        assert!(rollback_in("## Rollback&nbsp;plan\nRevert.").found);
    }

    #[test]
    fn comments_after_a_heading_do_not_change_its_name() {
        let statuses = check_pr("## Impact <!-- required -->\nShorter.\n## Rollback plan\nRevert.");
        assert!(statuses[0].found);
        let statuses = check_pr("## Rollback plan <!-- required -->\nTBD");
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("section \"Rollback plan\" in PR description is only a placeholder (TBD)")
        );
        // An HTML comment opens an HTML block only at the start of a line; an unclosed `<!--`
        // inside a heading is literal text and hides nothing (CommonMark; GitHub shows the
        // next line as a heading). The hand-written parser hid it.
        assert_eq!(
            headings_of("## Impact <!-- not\n## Rollback\n-->\n## Rollback plan"),
            vec![
                ("Impact <!-- not".to_string(), 2),
                ("Rollback".to_string(), 2),
                ("Rollback plan".to_string(), 2)
            ]
        );
    }

    #[test]
    fn crlf_input() {
        let markdown = "## Impact\r\nShorter answers.\r\n\r\nRollback\r\n---\r\nRevert.\r\n";
        assert_eq!(
            headings_of(markdown),
            vec![("Impact".to_string(), 2), ("Rollback".to_string(), 2)]
        );
        assert_eq!(body_of(markdown, "Impact"), "Shorter answers.");
        assert_eq!(body_of(markdown, "Rollback"), "Revert.");
        let statuses = check_pr("## Impact\r\nTBD\r\n## Rollback\r\n<!-- x -->\r\n");
        assert!(statuses.iter().all(|status| !status.found));
    }

    // ---- heading names ----

    #[test]
    fn heading_names_ignore_case_emphasis_and_trailing_colon() {
        for heading in [
            "## Rollback plan",
            "## ROLLBACK PLAN",
            "##   rollback   plan  ",
            "## **Rollback plan:**",
            "## Rollback plan:",
            "## __Rollback__ plan",
            "## *Rollback*",
            "## `Rollback`",
        ] {
            let markdown = format!("{heading}\nRevert the prompt to v3.");
            let statuses = check(
                &names(&["rollback"]),
                &[pr(&markdown)],
                &Headings::default(),
            );
            assert!(statuses[0].found, "{heading:?}");
        }
    }

    #[test]
    fn heading_names_must_match_whole() {
        let statuses = check_pr("## Impact analysis\nA lot.\n## Rollback plans we rejected\nX");
        assert!(statuses.iter().all(|status| !status.found));
    }

    #[test]
    fn every_default_impact_heading_is_accepted() {
        for heading in ["Expected user impact", "User impact", "Impact"] {
            let markdown = format!("### {heading}\nAnswers get shorter.");
            let statuses = check(&names(&["impact"]), &[pr(&markdown)], &Headings::default());
            assert!(statuses[0].found, "{heading}");
        }
    }

    #[test]
    fn custom_heading_names() {
        let headings = Headings {
            by_artifact: vec![("rollback".to_string(), names(&["Undo"]))],
        };
        let markdown = "## Undo\nRevert.\n## Rollback\nRevert.";
        let statuses = check(&names(&["rollback"]), &[pr(markdown)], &headings);
        assert!(statuses[0].found);
        let statuses = check(
            &names(&["rollback"]),
            &[pr("## Rollback\nRevert.")],
            &headings,
        );
        assert!(!statuses[0].found);
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("no \"Undo\" section in the PR description or in a .promptgate/changes/*.md record of this change")
        );
    }

    #[test]
    fn unknown_artifact_is_headed_by_its_own_name() {
        let headings = Headings::default();
        assert_eq!(
            headings.names_for("security review"),
            names(&["security review"])
        );
        assert_eq!(
            headings.names_for("Rollback"),
            names(&["Rollback plan", "Rollback"])
        );
        let statuses = check(
            &names(&["security review"]),
            &[pr("## Security review\nReviewed by the security team.")],
            &headings,
        );
        assert_eq!(statuses[0].name, "security review");
        assert!(statuses[0].found);
        let empty_names = Headings {
            by_artifact: vec![("security review".to_string(), Vec::new())],
        };
        assert_eq!(
            empty_names.names_for("security review"),
            names(&["security review"])
        );
    }

    // ---- check ----

    #[test]
    fn unfilled_pr_template_misses_both_with_reasons() {
        let template = "## Summary\nTweak tone.\n\n## Expected user impact\n<!-- describe -->\n\n## Rollback plan\nTBD\n";
        assert_eq!(
            check_pr(template),
            vec![
                ArtifactStatus {
                    name: "impact".to_string(),
                    found: false,
                    source: None,
                    reason: Some(
                        "section \"Expected user impact\" in PR description holds only an HTML comment, which is hidden and does not count".to_string()
                    ),
                },
                ArtifactStatus {
                    name: "rollback".to_string(),
                    found: false,
                    source: None,
                    reason: Some(
                        "section \"Rollback plan\" in PR description is only a placeholder (TBD)"
                            .to_string()
                    ),
                },
            ]
        );
    }

    #[test]
    fn filled_pr_template_finds_both() {
        let description = "\
## Summary
Make the support answer shorter and cite the help-center article.

## Expected user impact
<!-- Who notices, and how? -->
Support answers drop from ~180 to ~110 words; citation accuracy should rise (eval: 0.93 → 0.97).
Customers on the legacy plan may see a link they cannot open.

## Rollback plan
<!-- How do we undo this? -->
1. Revert this PR (prompt-only change, no migration).
2. Redeploy `support-answer`; the cache keys on the prompt hash, so nothing is stale.

## Checklist
- [x] Evals pass
";
        let statuses = check_pr(description);
        for status in &statuses {
            assert!(status.found, "{status:?}");
            assert_eq!(status.source.as_deref(), Some("PR description"));
            assert_eq!(status.reason, None);
        }
        assert_eq!(statuses[0].name, "impact");
        assert_eq!(statuses[1].name, "rollback");
    }

    #[test]
    fn empty_section_reason() {
        let statuses = check_pr("## Impact\n\n## Rollback\n");
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("section \"Impact\" in PR description is empty")
        );
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("section \"Rollback\" in PR description is empty")
        );
    }

    #[test]
    fn no_section_reason_lists_every_heading_name() {
        let statuses = check_pr("Just a description.");
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("no \"Expected user impact\" / \"User impact\" / \"Impact\" section in the PR description or in a .promptgate/changes/*.md record of this change")
        );
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("no \"Rollback plan\" / \"Rollback\" section in the PR description or in a .promptgate/changes/*.md record of this change")
        );
        assert!(statuses.iter().all(|status| status.source.is_none()));
    }

    #[test]
    fn no_documents_means_no_section() {
        let statuses = check(&required(), &[], &Headings::default());
        assert_eq!(statuses.len(), 2);
        assert!(statuses.iter().all(|status| !status.found));
        assert!(statuses[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("no ")));
    }

    #[test]
    fn first_document_with_a_written_section_wins() {
        let documents = [
            pr("## Rollback plan\nTBD"),
            Document {
                source: ".promptgate/changes/shorter-answers.md",
                markdown: "# Shorter answers\n## Rollback\nRevert the prompt.\n## Impact\nShorter.",
            },
            Document {
                source: ".promptgate/changes/other.md",
                markdown: "## Rollback\nAlso written.\n## Impact\nAlso.",
            },
        ];
        let statuses = check(&required(), &documents, &Headings::default());
        for status in &statuses {
            assert!(status.found);
            assert_eq!(
                status.source.as_deref(),
                Some(".promptgate/changes/shorter-answers.md")
            );
        }
        let reordered = [documents[2], documents[1]];
        let statuses = check(&required(), &reordered, &Headings::default());
        assert_eq!(
            statuses[0].source.as_deref(),
            Some(".promptgate/changes/other.md")
        );
    }

    #[test]
    fn a_written_duplicate_section_beats_an_unwritten_one_in_the_same_document() {
        let statuses = check_pr("## Rollback\nTBD\n## Rollback plan\nRevert.\n## Impact\nX.");
        assert!(statuses[1].found);
    }

    #[test]
    fn a_placeholder_anywhere_beats_no_section() {
        let documents = [
            pr("Nothing here."),
            Document {
                source: ".promptgate/changes/a.md",
                markdown: "## Rollback\nN/A\n## Impact\n<!-- later -->",
            },
        ];
        let statuses = check(&required(), &documents, &Headings::default());
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("section \"Impact\" in .promptgate/changes/a.md holds only an HTML comment, which is hidden and does not count")
        );
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("section \"Rollback\" in .promptgate/changes/a.md is only a placeholder (N/A)")
        );
    }

    #[test]
    fn the_first_unwritten_section_gives_the_reason() {
        let documents = [
            pr("## Rollback\n-"),
            Document {
                source: ".promptgate/changes/a.md",
                markdown: "## Rollback\nTODO",
            },
        ];
        let statuses = check(&names(&["rollback"]), &documents, &Headings::default());
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("section \"Rollback\" in PR description is only a placeholder (-)")
        );
    }

    #[test]
    fn written_subsection_under_a_placeholder_parent_counts() {
        let statuses =
            check_pr("## Impact\nTBD\n### User impact\nShorter answers.\n## Rollback\nRevert.");
        assert!(statuses[0].found);
    }

    #[test]
    fn rollback_commands_in_a_fence_count_as_written() {
        let statuses = check_pr("## Impact\nShorter.\n## Rollback plan\n```sh\n# revert the prompt\ngit revert abc123\n```\n");
        assert!(statuses[1].found);
    }

    #[test]
    fn statuses_follow_the_required_order_and_repeat_names() {
        let statuses = check(
            &names(&["rollback", "impact", "rollback"]),
            &[pr("## Impact\nX\n## Rollback\nY")],
            &Headings::default(),
        );
        let order: Vec<&str> = statuses.iter().map(|status| status.name.as_str()).collect();
        assert_eq!(order, vec!["rollback", "impact", "rollback"]);
    }

    #[test]
    fn serializes_without_empty_fields() {
        let found = serde_json::to_value(found_in("impact", "PR description")).unwrap();
        assert_eq!(
            found,
            serde_json::json!({"name": "impact", "found": true, "source": "PR description"})
        );
        let statuses = check_pr("");
        let missing = &statuses[1];
        let json = serde_json::to_value(missing).unwrap();
        assert_eq!(json["found"], serde_json::json!(false));
        assert!(json.get("source").is_none());
        let back: ArtifactStatus = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, missing);
        assert!(json["reason"]
            .as_str()
            .is_some_and(|r| r.contains("\"Rollback plan\"")));
    }
}
