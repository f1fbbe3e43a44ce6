//! The Markdown format, for GitHub comments and step summaries. Everything taken from the
//! repository (paths, surface names, file content) goes into code spans or fences sized so
//! that the content cannot close them: no mention, HTML or marker in a file can escape.

use std::fmt::Write;

use super::textdiff::LineTag;
use super::{body, status_word, Body};
use crate::changeset::ChangeSet;

/// Renders the change set as a Markdown section.
pub fn change_set(set: &ChangeSet) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### promptgate diff\n");
    let surfaces: Vec<String> = set.surfaces.iter().map(|s| code(s)).collect();
    let _ = writeln!(
        out,
        "**{}** prompt file(s) changed; surfaces affected: {}\n",
        set.changes.len(),
        if surfaces.is_empty() {
            "none".to_string()
        } else {
            surfaces.join(", ")
        }
    );
    if set.changes.is_empty() {
        return out;
    }
    out.push_str("| change | file | surfaces |\n|---|---|---|\n");
    for change in &set.changes {
        let file = match &change.old_path {
            Some(old) => format!("{} → {}", code(old), code(&change.path)),
            None => code(&change.path),
        };
        let via = super::via_label(change.via);
        let surfaces: Vec<String> = change.surfaces.iter().map(|s| code(s)).collect();
        let _ = writeln!(
            out,
            "| {}{via} | {} | {} |",
            status_word(change),
            cell(&file),
            cell(&surfaces.join(", "))
        );
    }
    for change in &set.changes {
        let _ = write!(
            out,
            "\n<details><summary><code>{}</code> ({})</summary>\n\n",
            html(&change.path),
            status_word(change)
        );
        for line in super::case_lines(change) {
            let _ = writeln!(out, "- {}", inline(&line));
        }
        if change.cases.as_ref().is_some_and(|c| !c.is_empty()) {
            out.push('\n');
        }
        match body(change) {
            Body::Note(note) => {
                let _ = writeln!(out, "{}", code(&note));
            }
            Body::Text(diff) => {
                if let Some(eol) = &diff.line_endings {
                    let _ = writeln!(out, "Line endings changed: {eol}.\n");
                }
                let mut lines = String::new();
                for hunk in &diff.hunks {
                    let _ = writeln!(lines, "{}", hunk.header());
                    for line in &hunk.lines {
                        let sign = match line.tag {
                            LineTag::Context => ' ',
                            LineTag::Removed => '-',
                            LineTag::Added => '+',
                        };
                        let _ = writeln!(lines, "{sign}{}", line.text());
                    }
                }
                out.push_str(&fenced("diff", &lines));
            }
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// A fenced block whose fence is longer than any backtick run inside.
pub fn fenced(lang: &str, text: &str) -> String {
    let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{text}{newline}{fence}\n")
}

/// An inline code span that the text cannot close (inside a table, escape its pipes with
/// the cell helper too: a pipe splits a cell even in a code span).
pub fn code(text: &str) -> String {
    let text = text.replace(['\r', '\n'], " ");
    let ticks = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// Escapes text for HTML (summary lines, where Markdown is not rendered).
pub fn html(text: &str) -> String {
    // Line breaks as character references: a name with a newline cannot start a line of
    // its own (a workflow command, a heading) in the comment or in stdout.
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('@', "&#64;")
        .replace('\r', "&#13;")
        .replace('\n', "&#10;")
        .replace('\u{2028}', "&#8232;")
        .replace('\u{2029}', "&#8233;")
}

/// Escapes the pipes of a table cell (they split cells even inside code spans).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn longest_run(text: &str, c: char) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// The marker that identifies promptgate's verdict comment.
pub const MARKER: &str = "<!-- promptgate:verdict -->";
/// GitHub's comment limit is 65,536 characters; the comment stays under this.
pub const MAX_COMMENT: usize = 65_000;
/// Regressions and the prompt diff are added while the comment is under this size.
const DETAIL_BUDGET: usize = 55_000;

/// The verdict comment: verdict first, then the surfaces, regressions with both outputs, the
/// artifact checklist, approvals, the prompt diff and how to re-run. Everything from the
/// repository or a model is escaped or fenced, and the comment stays under GitHub's limit.
pub fn verdict(report: &crate::gate::Report, changes: Option<&ChangeSet>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    verdict_header(&mut out, report);
    surfaces_table(&mut out, report);
    let mut omitted = 0;
    for surface in &report.surfaces {
        omitted += flips_section(&mut out, surface);
        suite_changes_section(&mut out, surface);
    }
    artifacts_section(&mut out, report);
    approvals_section(&mut out, report);
    if let Some(changes) = changes.filter(|c| !c.changes.is_empty()) {
        let diff = change_set(changes);
        if out.len() + diff.len() < DETAIL_BUDGET {
            let _ = writeln!(
                out,
                "\n<details><summary>Prompt diff</summary>\n\n{}\n</details>",
                diff.trim_start_matches("### promptgate diff\n\n")
            );
        } else {
            let _ = writeln!(out, "\n_The prompt diff is too long for a comment: see `prompts.diff` in the gate's output._");
        }
    }
    if omitted > 0 {
        let _ = writeln!(
            out,
            "\n_{omitted} more flipped case(s) are not shown here: see `report.json`._"
        );
    }
    rerun_section(&mut out, report);
    cap(out)
}

fn verdict_header(out: &mut String, report: &crate::gate::Report) {
    use crate::gate::Verdict;
    let (icon, word) = match report.verdict {
        Verdict::Pass => ("✅", "pass"),
        Verdict::NeedsSignoff => ("🟡", "needs sign-off"),
        Verdict::Blocked => ("❌", "blocked"),
        Verdict::Error => ("⚠️", "error: the gate could not finish"),
    };
    let _ = writeln!(out, "## {icon} promptgate: {word}\n");
    let short = |sha: &Option<String>| {
        sha.as_deref()
            .map(|s| code(&s[..s.len().min(7)]))
            .unwrap_or_else(|| "(not resolved)".into())
    };
    if report.merge_base.is_none() && report.head.is_none() {
        let _ = writeln!(out, "**Tier:** {}\n", report.tier.as_str());
    } else {
        let _ = writeln!(
            out,
            "**Tier:** {} · **base** {} → **head** {}\n",
            report.tier.as_str(),
            short(&report.merge_base),
            short(&report.head)
        );
    }
    if !report.reasons.is_empty() {
        let _ = writeln!(out, "**Why**");
        for reason in &report.reasons {
            let _ = writeln!(out, "- {}", inline(reason));
        }
        out.push('\n');
    }
    for note in &report.notes {
        let _ = writeln!(out, "> {}", inline(note));
    }
    if report.surfaces.is_empty() && report.verdict == Verdict::Pass {
        let _ = writeln!(out, "No prompt surface is affected by this change.");
    }
}

fn surfaces_table(out: &mut String, report: &crate::gate::Report) {
    if report.surfaces.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Surfaces\n\n| surface | base → head | delta | 95% CI (head) | McNemar p | rules | status |\n|---|---|---|---|---|---|---|");
    for s in &report.surfaces {
        let side = |stats: &Option<crate::gate::model::SideStats>| {
            stats.as_ref().map_or("—".to_string(), |st| {
                format!("{:.1}% ({}/{})", st.pass_rate * 100.0, st.passed, st.cases)
            })
        };
        let delta = s
            .delta
            .map_or("—".into(), |d| format!("{:+.1} pts", d * 100.0));
        let ci = s.head.as_ref().map_or("—".into(), |h| {
            format!("{:.1}–{:.1}%", h.ci_low * 100.0, h.ci_high * 100.0)
        });
        let p = s.mcnemar_p.map_or("—".into(), |p| format!("{p:.4}"));
        let held = s.rules.iter().filter(|r| r.ok).count();
        let status = if !s.complete {
            "⚠️ incomplete"
        } else if held == s.rules.len() {
            "✅"
        } else {
            "❌"
        };
        let _ = writeln!(
            out,
            "| {} | {} → {} | {delta} | {ci} | {p} | {held}/{} held | {status} |",
            cell(&code(&s.name)),
            side(&s.base),
            side(&s.head),
            s.rules.len()
        );
    }
    let noise: Vec<String> = report
        .surfaces
        .iter()
        .filter_map(|s| {
            super::noise_line(s).map(|line| format!("- {}: {}", code(&s.name), inline(&line)))
        })
        .collect();
    if !noise.is_empty() {
        let _ = writeln!(out, "\n{}", noise.join("\n"));
    }
    for s in report.surfaces.iter().filter(|s| !s.rules.is_empty()) {
        let _ = writeln!(out, "\n<details><summary>Rules of <code>{}</code></summary>\n\n| rule | value | threshold | held |\n|---|---|---|---|", html(&s.name));
        for r in &s.rules {
            let value = r.value.map_or("not measured".into(), |v| format!("{v:.4}"));
            let value = match &r.decided {
                Some(d) if d.low.is_finite() && d.high.is_finite() && d.high - d.low > 1e-12 => {
                    format!("{value} [{:.4}, {:.4}]", d.low, d.high)
                }
                _ => value,
            };
            let threshold = r.threshold.map_or("—".into(), |t| t.to_string());
            let note = r
                .note
                .as_deref()
                .map(|n| format!(" ({})", html(n)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {value}{note} | {threshold} | {} |",
                cell(&code(&r.rule.to_string())),
                if r.ok { "✅" } else { "❌" }
            );
        }
        if !s.flaky.is_empty() || !s.only_in_base.is_empty() || !s.only_in_head.is_empty() {
            let list = |ids: &[String]| ids.iter().map(|i| code(i)).collect::<Vec<_>>().join(", ");
            for (label, ids) in [
                ("Flaky (neither regression nor fix)", &s.flaky),
                ("Only in base (removed cases)", &s.only_in_base),
                ("Only in head (new cases)", &s.only_in_head),
            ] {
                if !ids.is_empty() {
                    let _ = writeln!(out, "\n{label}: {}", list(ids));
                }
            }
        }
        out.push_str("\n</details>\n");
    }
}

/// Regressions with both outputs and their word diff, then fixes; returns how many flips
/// did not fit.
fn flips_section(out: &mut String, surface: &crate::gate::SurfaceReport) -> usize {
    let mut omitted = 0;
    if !surface.regressions.is_empty() {
        let _ = writeln!(
            out,
            "\n### Regressions in {} (pass → fail): {}",
            code(&surface.name),
            surface.regressions.len()
        );
        for flip in &surface.regressions {
            let block = flip_block(flip);
            if out.len() + block.len() > DETAIL_BUDGET {
                omitted += 1;
                continue;
            }
            out.push_str(&block);
        }
    }
    if !surface.fixes.is_empty() {
        let ids: Vec<String> = surface.fixes.iter().map(|f| code(&f.id)).collect();
        let _ = writeln!(
            out,
            "\n**Fixes in {} (fail → pass):** {}",
            code(&surface.name),
            ids.join(", ")
        );
    }
    omitted
}

/// How many case changes the comment lists per surface before pointing at `report.json`.
const CASE_CHANGES_SHOWN: usize = 20;

/// The eval cases the change adds, removes and edits, loosenings first.
fn suite_changes_section(out: &mut String, surface: &crate::gate::SurfaceReport) {
    let changes = &surface.suite_changes;
    if changes.is_empty() {
        return;
    }
    let loosening = changes.iter().filter(|c| c.loosens()).count();
    let _ = writeln!(
        out,
        "\n<details><summary>Eval case changes in <code>{}</code>: {}{}</summary>\n",
        html(&surface.name),
        changes.len(),
        if loosening > 0 {
            format!(", {loosening} loosen the suite")
        } else {
            String::new()
        }
    );
    let mut ordered: Vec<&crate::eval::case_diff::CaseChange> = changes.iter().collect();
    ordered.sort_by_key(|c| !c.loosens());
    for change in ordered.iter().take(CASE_CHANGES_SHOWN) {
        let mark = if change.loosens() { "⚠️ " } else { "" };
        let _ = writeln!(out, "- {mark}{}", inline(&super::case_line(change)));
    }
    if changes.len() > CASE_CHANGES_SHOWN {
        let _ = writeln!(
            out,
            "- … {} more in `report.json` (`suite_changes`)",
            changes.len() - CASE_CHANGES_SHOWN
        );
    }
    out.push_str("\n</details>\n");
}

fn flip_block(flip: &crate::gate::model::Flip) -> String {
    let reason = flip
        .reason
        .as_deref()
        .map(|r| format!(" — {}", html(r)))
        .unwrap_or_default();
    let mut block = format!(
        "\n<details><summary><code>{}</code>{reason}</summary>\n\n",
        html(&flip.id)
    );
    let (base, head) = (
        flip.base_output.as_deref().unwrap_or(""),
        flip.head_output.as_deref().unwrap_or(""),
    );
    let _ = write!(
        block,
        "**Base output**\n\n{}\n**Head output**\n\n{}\n**Word diff**\n\n{}",
        fenced("text", &neutralize(base)),
        fenced("text", &neutralize(head)),
        fenced("text", &neutralize(&word_diff(base, head)))
    );
    block.push_str("\n</details>\n");
    block
}

/// A word-level diff in git's `--word-diff=plain` notation: `[-removed-]{+added+}`.
pub fn word_diff(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_words(old, new);
    // Adjacent changes of one kind (words and the spaces between them) read as one run.
    let mut runs: Vec<(similar::ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_string())),
        }
    }
    runs.into_iter()
        .map(|(tag, text)| match tag {
            similar::ChangeTag::Equal => text,
            similar::ChangeTag::Delete => format!("[-{text}-]"),
            similar::ChangeTag::Insert => format!("{{+{text}+}}"),
        })
        .collect()
}

fn artifacts_section(out: &mut String, report: &crate::gate::Report) {
    if report.artifacts.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Artifacts\n");
    for artifact in &report.artifacts {
        let detail = match (&artifact.source, &artifact.reason) {
            (Some(source), _) if artifact.found => format!(" — from {}", code(source)),
            (_, Some(reason)) => format!(" — missing: {}", inline(reason)),
            _ => " — missing".to_string(),
        };
        let _ = writeln!(
            out,
            "- [{}] {}{detail}",
            if artifact.found { "x" } else { " " },
            code(&artifact.name)
        );
    }
    let _ = writeln!(out, "- [x] diff and eval delta — written by promptgate (this comment, `report.json`, `prompts.diff`)");
}

fn approvals_section(out: &mut String, report: &crate::gate::Report) {
    let a = &report.approvals;
    if a.required == 0 {
        return;
    }
    let approvers: Vec<String> = a.approvers.iter().map(|x| code(x)).collect();
    let given: Vec<String> = a.approved_by.iter().map(|x| code(x)).collect();
    let _ = writeln!(
        out,
        "\n### Approvals\n\nThis {} change needs {} approval(s) from {}; given: {}.",
        a.tier.as_str(),
        a.required,
        if approvers.is_empty() {
            "the tier's approvers".into()
        } else {
            approvers.join(", ")
        },
        if given.is_empty() {
            "none yet".into()
        } else {
            given.join(", ")
        }
    );
    if let Some(note) = &a.note {
        let _ = writeln!(out, "\n_{}_", inline(note));
    }
    if !a.not_counted.is_empty() {
        let _ = writeln!(out, "\nNot counted:");
        for why in &a.not_counted {
            let _ = writeln!(out, "- {}", inline(why));
        }
    }
    if a.missing > 0 {
        // The line binds the approval to this head: a later push needs a new one.
        let line = match report.head.as_deref() {
            Some(head) if head.len() >= 7 && head.bytes().all(|b| b.is_ascii_hexdigit()) => {
                crate::github::approvals::approve_line(head)
            }
            _ => "/promptgate approve <the head commit's sha>".to_string(),
        };
        let _ = writeln!(out, "\nTo approve, an approver submits an approving review of the head commit, or comments with this first line (it approves this commit only; `/promptgate revoke` withdraws an approval):\n\n```text\n{line}\n```");
    }
}

fn rerun_section(out: &mut String, report: &crate::gate::Report) {
    if let Some(number) = report.pull_request {
        let _ = writeln!(out, "\n<sub>Re-run: <code>promptgate check --pr {number}</code> · full results in <code>report.json</code></sub>");
        return;
    }
    let base = report.merge_base.as_deref().unwrap_or("BASE");
    let head = report.head.as_deref().unwrap_or("HEAD");
    let body = report
        .pr_body
        .as_deref()
        .map(|path| format!(" --pr-body {}", html(&shell_word(path))))
        .unwrap_or_default();
    let _ = writeln!(out, "\n<sub>Re-run: <code>promptgate check --base {} --head {}{body}</code> · full results in <code>report.json</code></sub>", html(&base[..base.len().min(12)]), html(&head[..head.len().min(12)]));
}

/// A path as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Text from a model or a repository for use inside a fence: the marker cannot be forged.
fn neutralize(text: &str) -> String {
    text.replace("promptgate:verdict", "promptgate:\u{200b}verdict")
}

/// Text in running Markdown: no HTML, no mentions, no marker. Balanced backticks stay code
/// spans (which GitHub renders literally, so they need no escaping); the rest is escaped.
fn inline(text: &str) -> String {
    let text = neutralize(&text.replace('\n', " "));
    if text.matches('`').count() % 2 != 0 {
        return html(&text).replace('`', "'");
    }
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("`{part}`")
            } else {
                html(part)
            }
        })
        .collect()
}

/// Cuts the comment at the limit with a pointer to the full report.
fn cap(mut text: String) -> String {
    if text.len() <= MAX_COMMENT {
        return text;
    }
    let mut cut = MAX_COMMENT - 200;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(
        "\n\n_The comment was cut at GitHub's size limit: see `report.json` for everything._\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_groups_runs() {
        assert_eq!(
            word_diff("be kind and brief", "be kind and thorough"),
            "be kind and [-brief-]{+thorough+}"
        );
        assert_eq!(
            word_diff("correct answer", "wrong"),
            "[-correct answer-]{+wrong+}"
        );
    }

    #[test]
    fn inline_text_keeps_code_spans_and_escapes_the_rest() {
        assert_eq!(
            inline("rule `min_pass_rate` <b>@team</b>"),
            "rule `min_pass_rate` &lt;b&gt;&#64;team&lt;/b&gt;"
        );
        assert_eq!(inline("odd ` tick <x>"), "odd ' tick &lt;x&gt;");
        assert!(!inline("a <!-- promptgate:verdict --> b").contains("promptgate:verdict"));
    }

    #[test]
    fn html_text_keeps_to_its_line() {
        assert_eq!(
            html("b\n::warning title=x::forged\r.md"),
            "b&#10;::warning title=x::forged&#13;.md"
        );
    }

    #[test]
    fn fences_outgrow_backticks_in_content() {
        assert_eq!(fenced("diff", "+```\n"), "````diff\n+```\n````\n");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }
}
