//! Prompt files: a Jinja template in plain text or Markdown (one `user` message, optional
//! YAML front matter with model parameters), or a chat file (YAML/JSON `messages`), plus
//! the include graph between templates and the minijinja engine that checks and renders
//! them.

pub mod depth;
pub mod includes;
pub mod template;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::diagnostic::{line_of, Diagnostic};

/// One message of a prompt, as a template.
#[derive(Debug, Clone)]
pub struct Message {
    pub role: String,
    /// The template's name in the engine: the path, or `path#messages[i]` in chat files.
    pub template: String,
    pub source: String,
    /// 1-based line of the file where `source` starts, to report errors in file lines.
    pub first_line: usize,
}

/// A parsed prompt file.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub path: String,
    /// Model parameters from front matter or a chat file's other keys.
    pub params: Map<String, Value>,
    pub messages: Vec<Message>,
}

/// Whether a path is a chat file (YAML or JSON with `messages`) rather than a text template.
pub fn is_chat_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Whether bytes look binary (a NUL byte in the first 8 KiB, as git decides).
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0)
}

/// Parses a prompt file's bytes.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Prompt, Diagnostic> {
    if is_binary(bytes) {
        return Err(
            Diagnostic::error(path, "binary file where a prompt template was expected").with_help(
                "prompt files are UTF-8 text; narrow the surface's `prompts` globs to exclude it",
            ),
        );
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = line_of(
            &String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
            e.valid_up_to(),
        );
        Diagnostic::error(path, "the prompt is not valid UTF-8")
            .at_line(line)
            .with_help("save the file as UTF-8")
    })?;
    if is_chat_file(path) {
        parse_chat(path, text)
    } else {
        parse_text(path, text)
    }
}

/// Splits `---` front matter from a text prompt: (front matter, body, body's first line).
pub fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let header_len = text.len() - rest.len();
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body_line = line_of(text, header_len + offset + line.len());
            return Some((front, body, body_line));
        }
        offset += line.len();
    }
    None
}

fn parse_text(path: &str, text: &str) -> Result<Prompt, Diagnostic> {
    let (params, body, first_line) = match split_front_matter(text) {
        Some((front, body, first_line)) => (parse_front_matter(path, front)?, body, first_line),
        None => (Map::new(), text, 1),
    };
    Ok(Prompt {
        path: path.to_string(),
        params,
        messages: vec![Message {
            role: "user".into(),
            template: path.to_string(),
            source: body.to_string(),
            first_line,
        }],
    })
}

fn parse_front_matter(path: &str, front: &str) -> Result<Map<String, Value>, Diagnostic> {
    if front.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_saphyr::from_str::<Value>(front) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(
            Diagnostic::error(path, "front matter must be a mapping of model parameters")
                .at_line(2)
                .with_help(
                    "write `key: value` lines between the `---` markers, e.g. `temperature: 0.2`",
                ),
        ),
        Err(e) => Err(yaml_error(path, &e, 1)),
    }
}

/// A YAML error as a diagnostic, its line shifted by `line_offset` lines.
pub(crate) fn yaml_error(
    path: &str,
    error: &serde_saphyr::Error,
    line_offset: usize,
) -> Diagnostic {
    let message = error.without_snippet().to_string();
    let message = message.lines().next().unwrap_or("invalid YAML").to_string();
    let diagnostic = Diagnostic::error(path, format!("invalid YAML: {message}"));
    match error.location() {
        Some(location) => diagnostic
            .at_line(location.line() as usize + line_offset)
            .at_column(location.column() as usize),
        None => diagnostic,
    }
}

#[derive(Deserialize)]
struct ChatFile {
    messages: Vec<ChatMessage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatMessage {
    role: serde_saphyr::Spanned<String>,
    content: serde_saphyr::Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

const ROLES: &[&str] = &["system", "user", "assistant"];

fn parse_chat(path: &str, text: &str) -> Result<Prompt, Diagnostic> {
    let whole: Value = serde_saphyr::from_str(text).map_err(|e| yaml_error(path, &e, 0))?;
    let Value::Object(mut params) = whole else {
        return Err(
            Diagnostic::error(path, "a chat prompt must be a mapping with `messages`").with_help(
                "write `messages: [{role: system, content: …}, {role: user, content: …}]`",
            ),
        );
    };
    if params.remove("messages").is_none() {
        return Err(
            Diagnostic::error(path, "a chat prompt needs a `messages` list").with_help(
                "write `messages: [{role: system, content: …}, {role: user, content: …}]`",
            ),
        );
    }
    let chat: ChatFile = serde_saphyr::from_str(text).map_err(|e| yaml_error(path, &e, 0))?;
    if chat.messages.is_empty() {
        return Err(
            Diagnostic::error(path, "`messages` is empty").with_help("give at least one message")
        );
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut messages = Vec::with_capacity(chat.messages.len());
    for (i, message) in chat.messages.into_iter().enumerate() {
        let role_line = message.role.referenced.line() as usize;
        if !ROLES.contains(&message.role.value.as_str()) {
            return Err(
                Diagnostic::error(path, format!("unknown role `{}`", message.role.value))
                    .at_line(role_line)
                    .with_help("roles are system, user and assistant"),
            );
        }
        let mut first_line = message.content.referenced.line() as usize;
        // A block scalar (`content: |`) starts on the line after its indicator.
        if lines
            .get(first_line.saturating_sub(1))
            .is_some_and(|l| l.trim_end().ends_with(['|', '>', '-', '+']))
        {
            first_line += 1;
        }
        messages.push(Message {
            role: message.role.value,
            template: format!("{path}#messages[{i}]"),
            source: message.content.value,
            first_line,
        });
    }
    Ok(Prompt {
        path: path.to_string(),
        params,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_split_with_body_line() {
        let p = parse("a.md", b"---\ntemperature: 0.2\n---\nHello {{ name }}\n").unwrap();
        assert_eq!(p.params["temperature"], serde_json::json!(0.2));
        assert_eq!(p.messages[0].source, "Hello {{ name }}\n");
        assert_eq!(p.messages[0].first_line, 4);
    }

    #[test]
    fn crlf_front_matter() {
        let p = parse("a.md", b"---\r\nmodel: x\r\n---\r\nHi\r\n").unwrap();
        assert_eq!(p.params["model"], serde_json::json!("x"));
        assert_eq!(p.messages[0].source, "Hi\r\n");
    }

    #[test]
    fn chat_file_messages_and_params() {
        let text = "temperature: 0\nmessages:\n  - role: system\n    content: You are {{ persona }}\n  - role: user\n    content: |\n      Q: {{ q }}\n";
        let p = parse("c.yaml", text.as_bytes()).unwrap();
        assert_eq!(p.messages.len(), 2);
        assert_eq!(p.messages[0].first_line, 4);
        assert_eq!(p.messages[1].first_line, 7);
        assert_eq!(p.messages[1].template, "c.yaml#messages[1]");
        assert_eq!(p.params["temperature"], serde_json::json!(0));
    }

    #[test]
    fn rejects_bad_role_binary_and_missing_messages() {
        let e = parse("c.yaml", b"messages:\n  - role: robot\n    content: x\n").unwrap_err();
        assert!(
            e.to_string().contains("c.yaml:2: unknown role `robot`"),
            "{e}"
        );
        assert!(parse("b.md", b"a\0b")
            .unwrap_err()
            .message
            .contains("binary"));
        assert!(parse("c.json", b"{\"model\": \"x\"}")
            .unwrap_err()
            .message
            .contains("messages"));
    }
}
