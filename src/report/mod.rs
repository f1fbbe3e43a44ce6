//! Reports, one module per format: the terminal (plain or coloured), Markdown for GitHub,
//! and JSON for machines; plus the readable text diff they all draw from.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod terminal;
pub mod textdiff;
pub mod unified;

use std::borrow::Cow;

use crate::changeset::{Content, PromptChange, Via};
use crate::eval::case_diff::CaseChange;
use crate::git::Status;

/// How a change's status reads in reports.
pub fn status_word(change: &PromptChange) -> String {
    match (change.status, change.similarity) {
        (Status::Renamed, Some(s)) => format!("renamed ({s}%)"),
        (Status::Renamed, None) => "renamed".into(),
        (Status::Added, _) => "added".into(),
        (Status::Modified, _) => "modified".into(),
        (Status::Deleted, _) => "deleted".into(),
    }
}

/// Why a file is in the change set, as reports suffix its name (nothing for a prompt).
pub fn via_label(via: Via) -> &'static str {
    match via {
        Via::Include => " (included)",
        Via::Config => " (config)",
        Via::Cases => " (eval cases)",
        Via::Prompt => "",
    }
}

/// Text from the repository (paths, case ids, surface names, model output…) made safe to
/// print on one line: control characters other than tab, and the Unicode line and
/// paragraph separators, are written as escapes (`\n`, `\r`, `\u{1b}`), so a value
/// cannot start a line of its own (a `::warning` workflow command in a CI log) or send
/// terminal escape sequences.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A case-file change, case by case: one line each, loosenings named.
pub fn case_lines(change: &PromptChange) -> Vec<String> {
    change.cases.iter().flatten().map(case_line).collect()
}

/// One changed case in a line, with what loosens the suite, if anything; control
/// characters in ids and details are escaped.
pub fn case_line(change: &CaseChange) -> String {
    let line = if change.loosens() {
        format!(
            "{} — loosens the suite: {}",
            change.summary(),
            change.loosenings.join("; ")
        )
    } else {
        change.summary()
    };
    escape_controls(&line).into_owned()
}

/// What a side that is not text says instead of a diff.
pub fn describe_content(content: &Content) -> Option<String> {
    match content {
        Content::Text(_) => None,
        Content::Binary(size) => Some(format!("binary file, {size} bytes")),
        Content::NotUtf8(size) => Some(format!("not UTF-8 text, {size} bytes")),
        Content::Symlink(target) => Some(format!("symlink to `{target}` (not followed)")),
        Content::Submodule(commit) => Some(format!(
            "submodule at {} (not entered)",
            &commit[..commit.len().min(12)]
        )),
    }
}

/// The body of a change's diff: the text diff when both sides (or the one present) are
/// text, or a sentence for binary, non-UTF-8, symlink, submodule and pure-rename changes.
pub enum Body {
    Text(textdiff::TextChange),
    Note(String),
}

pub fn body(change: &PromptChange) -> Body {
    fn text(c: &Option<Content>) -> Option<&str> {
        match c {
            Some(Content::Text(t)) => Some(t.as_str()),
            None => Some(""),
            _ => None,
        }
    }
    if change.old.is_none() && change.new.is_none() {
        return Body::Note("content unchanged".into());
    }
    match (text(&change.old), text(&change.new)) {
        (Some(old), Some(new)) => {
            let diff = textdiff::diff(old, new);
            if diff.hunks.is_empty() && diff.line_endings.is_none() {
                Body::Note("content unchanged".into())
            } else {
                Body::Text(diff)
            }
        }
        _ => {
            let side = |c: &Option<Content>| match c {
                Some(c) => describe_content(c).unwrap_or_else(|| "text".into()),
                None => "absent".into(),
            };
            Body::Note(format!("{} → {}", side(&change.old), side(&change.new)))
        }
    }
}

/// What noise did to a surface's measure, in one line: the rounds of trials it took, the
/// drop with its interval, whether the change is within noise, and the suite's power.
/// `None` for a surface with nothing to say (no base side, one planned round).
pub fn noise_line(surface: &crate::gate::SurfaceReport) -> Option<String> {
    let mut parts = Vec::new();
    if surface.max_rounds > 1 {
        parts.push(format!(
            "{} of {} round(s) of trials ({} trials in all)",
            surface.rounds, surface.max_rounds, surface.trials
        ));
    }
    if let Some(drop) = &surface.drop {
        // Shown as the change in pass rate (head − base), like `delta`.
        let interval = if drop.high - drop.low > 1e-12 {
            format!(
                " (interval {:+.1} to {:+.1})",
                -drop.high * 100.0,
                -drop.low * 100.0
            )
        } else {
            String::new()
        };
        parts.push(format!(
            "pass rate {:+.1} points{interval}",
            -drop.value * 100.0
        ));
        if drop.low <= 0.0 && drop.high >= 0.0 && drop.high - drop.low > 1e-12 {
            parts.push("within noise: the data cannot tell it from no change".into());
        }
    }
    if surface.inconclusive {
        parts.push("inconclusive: another round of trials was due".into());
    }
    parts.extend(surface.power.clone());
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape_controls("plain\ttext é"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("c1\n::warning title=x::ok\r\u{1b}[2J\u{85}\u{2028}"),
            "c1\\n::warning title=x::ok\\r\\u{1b}[2J\\u{85}\\u{2028}"
        );
    }
}
