//! The GitHub Actions side channels: the report in the step summary, `verdict`,
//! `exit-code` and `report` as step outputs, and `::error` workflow commands that annotate
//! the prompt files behind each failed rule, escaped so no text can end a command early or
//! inject another.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::gate::{Report, Verdict};

/// Appends `markdown` to the step summary file.
pub fn append_summary(path: &Path, markdown: &str) -> Result<()> {
    append(path, &format!("{markdown}\n"))
}

/// Appends `name=value` step outputs; a value with a newline uses the heredoc form.
pub fn write_outputs(path: &Path, outputs: &[(&str, String)]) -> Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        if value.contains('\n') {
            let delimiter = format!("promptgate_{}", std::process::id());
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    append(path, &text)
}

fn append(path: &Path, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| Error::io("append to", path, e))
}

/// `::error` commands: one per prompt file behind each failed rule, and one per reason the
/// gate could not finish.
pub fn annotations(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for surface in &report.surfaces {
        for rule in surface.rules.iter().filter(|r| !r.ok) {
            for file in &surface.changed_files {
                lines.push(error(
                    Some(file),
                    &format!("promptgate: surface {}", surface.name),
                    &rule.describe(),
                ));
            }
        }
    }
    if report.verdict == Verdict::Error {
        for reason in &report.reasons {
            lines.push(error(None, "promptgate could not finish", reason));
        }
    }
    lines
}

/// One `::error` workflow command.
pub fn error(file: Option<&str>, title: &str, message: &str) -> String {
    let mut properties = Vec::new();
    if let Some(file) = file {
        properties.push(format!("file={}", escape_property(file)));
    }
    properties.push(format!("title={}", escape_property(title)));
    format!("::error {}::{}", properties.join(","), escape_data(message))
}

/// Escapes a command's message (`%`, CR, LF), as the runner decodes it.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property: also `:` and `,`, which delimit properties.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_cannot_be_broken_out_of() {
        let line = error(
            Some("prompts/a,b:c.md"),
            "promptgate: x",
            "50% worse\n::error::forged",
        );
        assert_eq!(
            line,
            "::error file=prompts/a%2Cb%3Ac.md,title=promptgate%3A x::50%25 worse%0A::error::forged"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn multiline_outputs_use_a_heredoc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_outputs(
            &path,
            &[("verdict", "pass".into()), ("notes", "a\nb".into())],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("verdict=pass\nnotes<<promptgate_"),
            "{text}"
        );
        assert!(text.contains("\na\nb\npromptgate_"), "{text}");
    }
}
