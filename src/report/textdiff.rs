//! A readable diff of two texts: hunks of changed lines with context, and inside changed
//! lines the words that changed, computed once (with `similar`) and drawn by each report
//! format. Line endings are compared but not drawn; a change of line endings alone is
//! reported as such instead of as every line changing.

use similar::{ChangeTag, TextDiff};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineTag {
    Context,
    Removed,
    Added,
}

/// One diff line: its tag and its text in segments, `true` marking changed words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tag: LineTag,
    pub segments: Vec<(bool, String)>,
}

impl Line {
    pub fn text(&self) -> String {
        self.segments.iter().map(|(_, s)| s.as_str()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based start and length on the old and new side, as in `@@ -a,b +c,d @@`.
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    pub lines: Vec<Line>,
}

impl Hunk {
    pub fn header(&self) -> String {
        format!(
            "@@ -{},{} +{},{} @@",
            self.old_start, self.old_len, self.new_start, self.new_len
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    pub hunks: Vec<Hunk>,
    /// Set when only the line endings differ, e.g. "CRLF → LF".
    pub line_endings: Option<String>,
}

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Diffs two texts line by line, with word-level changes inside changed lines.
pub fn diff(old: &str, new: &str) -> TextChange {
    let (old_eol, new_eol) = (eol(old), eol(new));
    let line_endings = (old_eol != new_eol).then(|| format!("{old_eol} → {new_eol}"));
    let (old_n, new_n) = (old.replace("\r\n", "\n"), new.replace("\r\n", "\n"));
    let text_diff = TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .diff_lines(&old_n, &new_n);
    let mut hunks = Vec::new();
    for group in text_diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let mut lines = Vec::new();
        for op in &group {
            for change in text_diff.iter_inline_changes(op) {
                let tag = match change.tag() {
                    ChangeTag::Equal => LineTag::Context,
                    ChangeTag::Delete => LineTag::Removed,
                    ChangeTag::Insert => LineTag::Added,
                };
                let segments = change
                    .iter_strings_lossy()
                    .map(|(emphasized, s)| (emphasized, s.trim_end_matches('\n').to_string()))
                    .filter(|(_, s)| !s.is_empty())
                    .collect();
                lines.push(Line { tag, segments });
            }
        }
        hunks.push(Hunk {
            old_start: old_range.start + usize::from(!old_range.is_empty()),
            old_len: old_range.len(),
            new_start: new_range.start + usize::from(!new_range.is_empty()),
            new_len: new_range.len(),
            lines,
        });
    }
    TextChange {
        hunks,
        line_endings,
    }
}

fn eol(text: &str) -> &'static str {
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count() - crlf;
    match (crlf, lf) {
        (0, _) => "LF",
        (_, 0) => "CRLF",
        _ => "mixed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_changed_words_within_lines() {
        let d = diff(
            "a\nBe kind and brief.\nz\n",
            "a\nBe kind and thorough.\nz\n",
        );
        assert_eq!(d.hunks.len(), 1);
        assert_eq!(d.hunks[0].header(), "@@ -1,3 +1,3 @@");
        let removed = &d.hunks[0].lines[1];
        assert_eq!(removed.tag, LineTag::Removed);
        assert!(
            removed.segments.contains(&(true, "brief".to_string())),
            "{removed:?}"
        );
    }

    #[test]
    fn line_endings_alone_are_not_line_changes() {
        let d = diff("a\r\nb\r\n", "a\nb\n");
        assert!(d.hunks.is_empty());
        assert_eq!(d.line_endings.as_deref(), Some("CRLF → LF"));
    }

    #[test]
    fn added_file_hunk_starts_at_zero() {
        let d = diff("", "x\n");
        assert_eq!(d.hunks[0].header(), "@@ -0,0 +1,1 @@");
    }
}
