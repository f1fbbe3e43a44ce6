//! Problems found in user files, as data: what is wrong, where (file, line, column, and a
//! snippet of the offending text) and what to do. Config, prompt and case checks all report
//! through this one type so that `validate`, `diff` and the hooks print them alike. The
//! snippet (the line, numbered, with carets under the span) is drawn by `annotate-snippets`,
//! which also expands tabs, sizes carets under wide characters and cuts very long lines.

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Repo-relative path (or the path as given), where the problem is.
    pub file: String,
    /// 1-based line, when the problem has a place inside the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column (in characters), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The offending source line with a caret marker under the span.
    #[serde(skip)]
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub fn error(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, file, message)
    }

    pub fn warning(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, file, message)
    }

    fn new(severity: Severity, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help of a diagnostic already pushed to a list.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(to_u32(line));
        self
    }

    pub fn at_column(mut self, column: usize) -> Self {
        self.column = Some(to_u32(column));
        self
    }

    /// Places the diagnostic at a byte span of `source`, with line, column and snippet.
    pub fn at_span(mut self, source: &str, span: std::ops::Range<usize>) -> Self {
        let (line, column) = line_column(source, span.start);
        self.line = Some(to_u32(line));
        self.column = Some(to_u32(column));
        self.snippet = Some(snippet(self.severity, source, span));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`, as far as known.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.file),
            (Some(line), None) => format!("{}:{line}", self.file),
            _ => self.file.clone(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}: {}", self.location(), self.message)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// 1-based line number of a byte offset.
pub fn line_of(source: &str, offset: usize) -> usize {
    line_column(source, offset).0
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The source line holding the span's start, numbered, with carets under the span (as far
/// as that line goes: a span over several lines is marked on its first).
fn snippet(severity: Severity, source: &str, span: std::ops::Range<usize>) -> String {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let text = source[line_start..line_end].trim_end_matches('\r');
    let line_end = line_start + text.len();
    let start = start.min(line_end);
    let end = floor_char_boundary(source, span.end.clamp(start, line_end));
    let level = match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let marked = AnnotationKind::Primary.span(start - line_start..end - line_start);
    let group = Group::with_level(level).element(
        Snippet::source(text)
            .line_start(line_of(source, start))
            .annotation(marked),
    );
    Renderer::plain().render(&[group])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        let offset = src
            .find('=')
            .map(|_| src.rfind('=').unwrap_or(0))
            .unwrap_or(0);
        assert_eq!(line_column(src, offset), (2, 4));
    }

    #[test]
    fn renders_snippet_with_carets() {
        let src = "[gate]\ncolour = 1\n";
        let d = Diagnostic::error("promptgate.toml", "unknown key `colour`").at_span(src, 7..13);
        assert_eq!(
            d.to_string(),
            "error: promptgate.toml:2:1: unknown key `colour`\n  |\n2 | colour = 1\n  | ^^^^^^"
        );
    }

    #[test]
    fn snippets_mark_the_first_line_and_never_run_past_the_source() {
        let snippet = |src: &str, span| snippet(Severity::Warning, src, span);
        // A span over several lines is marked on its first, to that line's end.
        assert_eq!(
            snippet("a = [\r\n  1,\r\n]\r\n", 4..14),
            "  |\n1 | a = [\n  |     ^"
        );
        assert_eq!(snippet("k = 1", 3..99), "  |\n1 | k = 1\n  |    ^^");
        assert_eq!(snippet("", 5..9), "  |\n1 |\n  | ^");
        // Tabs are expanded and wide characters get wide carets.
        assert_eq!(
            snippet("\t中 = 1\n", 1..4),
            "  |\n1 |     中 = 1\n  |     ^^"
        );
    }
}
