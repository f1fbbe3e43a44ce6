//! The `exec` provider: any local command that reads a prompt on stdin (or the JSON request,
//! on stdin or in a file named by a `{request_file}` argument) and prints the completion on
//! stdout. The command runs without a shell, under a timeout, and is killed if it overruns.

use std::time::Duration;

use super::{Completion, ProviderError, Request};
use crate::config::ExecInput;
use crate::util::text::excerpt;

/// The argument placeholder replaced by the path of a file holding the JSON request.
pub const REQUEST_FILE: &str = "{request_file}";

pub struct Exec {
    argv: Vec<String>,
    input: ExecInput,
    timeout: Duration,
    /// Where the command runs (else the current directory).
    dir: Option<std::path::PathBuf>,
}

impl Exec {
    pub fn new(argv: Vec<String>, input: ExecInput, timeout: Duration) -> Self {
        Exec {
            argv,
            input,
            timeout,
            dir: None,
        }
    }

    /// The same command, run in `dir`.
    pub fn in_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.dir = Some(dir);
        self
    }

    pub async fn complete(&self, request: &Request) -> Result<Completion, ProviderError> {
        let program = self
            .argv
            .first()
            .ok_or_else(|| ProviderError::permanent("exec: empty command"))?;
        let json = serde_json::to_string(request)
            .map_err(|e| ProviderError::permanent(format!("exec: {e}")))?;
        let request_file = self.request_file(&json)?;
        let args = self.argv[1..].iter().map(|arg| match &request_file {
            Some(file) => arg.replace(REQUEST_FILE, &file.path().to_string_lossy()),
            None => arg.clone(),
        });
        let stdin = match self.input {
            ExecInput::Text => prompt_text(request),
            ExecInput::Json => json,
        };
        let args: Vec<String> = args.collect();
        let output = crate::eval::command::run(
            program,
            &args,
            stdin.as_bytes(),
            self.timeout,
            self.dir.as_deref(),
        )
        .await
        .map_err(|failure| match failure {
            // A slow local model may answer next time; a missing program will not.
            crate::eval::command::Failure::TimedOut { .. } => {
                ProviderError::transient(format!("exec: {failure}"))
            }
            _ => ProviderError::permanent(format!("exec: {failure}")),
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(ProviderError::permanent(format!(
                "exec: `{program}` exited with {}: {}",
                output.status,
                excerpt(&stderr)
            )));
        }
        let text = String::from_utf8(output.stdout).map_err(|_| {
            ProviderError::permanent(format!(
                "exec: `{program}` printed output that is not UTF-8"
            ))
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
        if text.trim().is_empty() {
            return Err(ProviderError::permanent(format!(
                "exec: `{program}` printed nothing"
            )));
        }
        Ok(Completion {
            text,
            input_tokens: None,
            output_tokens: None,
            model: None,
        })
    }

    fn request_file(&self, json: &str) -> Result<Option<tempfile::NamedTempFile>, ProviderError> {
        if !self.argv.iter().any(|a| a.contains(REQUEST_FILE)) {
            return Ok(None);
        }
        let mut file = tempfile::NamedTempFile::new().map_err(|e| {
            ProviderError::permanent(format!("exec: cannot write the request file: {e}"))
        })?;
        std::io::Write::write_all(&mut file, json.as_bytes()).map_err(|e| {
            ProviderError::permanent(format!("exec: cannot write the request file: {e}"))
        })?;
        Ok(Some(file))
    }
}

/// The prompt as plain text: one message is its content; several are `role: content`
/// blocks separated by blank lines.
pub fn prompt_text(request: &Request) -> String {
    match request.messages.as_slice() {
        [only] => only.content.clone(),
        messages => messages
            .iter()
            .map(|m| format!("{}: {}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}
