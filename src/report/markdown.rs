//! The Markdown format, for GitHub comments and step summaries. Everything taken from the
//! repository (paths, surface names, file content) goes into code spans or fences sized so
//! that the content cannot close them: no mention, HTML or marker in a file can escape.

use std::fmt::Write;

use super::textdiff::LineTag;
use super::{body, status_word, Body};
use crate::changeset::{ChangeSet, Via};

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
        let via = match change.via {
            Via::Include => " (included)",
            Via::Config => " (config)",
            Via::Prompt => "",
        };
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

/// An inline code span that the text cannot close, with table pipes escaped.
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
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('@', "&#64;")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks_in_content() {
        assert_eq!(fenced("diff", "+```\n"), "````diff\n+```\n````\n");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }
}
