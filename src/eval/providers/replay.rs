//! The `replay` provider: completions recorded in a cassette (JSON Lines, one recorded call
//! per line, keyed by model, messages, parameters and trial index), for offline examples and
//! reproducible demos. `--record` appends to the cassette from a real provider.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{ChatMessage, Completion, ProviderError, Request};
use crate::eval::cache::request_key;

/// One recorded call; the request is kept beside its key so a cassette reads well in review.
#[derive(Debug, Serialize, Deserialize)]
struct Recording {
    key: String,
    model: String,
    trial: u32,
    messages: Vec<ChatMessage>,
    completion: Completion,
}

pub struct Replay {
    path: PathBuf,
    recordings: HashMap<String, Completion>,
}

impl Replay {
    /// Loads a cassette; a missing file is an empty cassette only when recording.
    pub fn load(path: &Path, recording: bool) -> Result<Replay, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && recording => String::new(),
            Err(e) => return Err(format!("cannot read cassette {}: {e}", path.display())),
        };
        Replay::parse(path, &text)
    }

    /// A cassette from its text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Replay, String> {
        let mut recordings = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let recording: Recording = serde_json::from_str(line).map_err(|e| {
                format!(
                    "{}:{}: invalid cassette line: {e}",
                    path.display(),
                    index + 1
                )
            })?;
            recordings.insert(recording.key, recording.completion);
        }
        Ok(Replay {
            path: path.to_path_buf(),
            recordings,
        })
    }

    pub fn complete(&self, request: &Request, trial: u32) -> Result<Completion, ProviderError> {
        self.recordings
            .get(&request_key(request, trial))
            .cloned()
            .ok_or_else(|| {
                ProviderError::permanent(format!(
                    "replay: no recorded response in {} for this request (trial {trial}); re-record with `promptgate eval --record`",
                    self.path.display()
                ))
            })
    }

    pub fn contains(&self, request: &Request, trial: u32) -> bool {
        self.recordings.contains_key(&request_key(request, trial))
    }
}

/// Appends recordings to a cassette, one line per call, safely from concurrent tasks.
pub struct Recorder {
    /// The cassette, and the lines it already holds (a line is written once).
    file: Mutex<(std::fs::File, std::collections::HashSet<String>)>,
}

impl Recorder {
    pub fn open(path: &Path) -> std::io::Result<Recorder> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let written = match std::fs::read_to_string(path) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(e),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Recorder {
            file: Mutex::new((file, written)),
        })
    }

    pub fn record(
        &self,
        request: &Request,
        trial: u32,
        completion: &Completion,
    ) -> std::io::Result<()> {
        let line = serde_json::to_string(&Recording {
            key: request_key(request, trial),
            model: request.model.clone(),
            trial,
            messages: request.messages.clone(),
            completion: completion.clone(),
        })?;
        let mut guard = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("cassette lock poisoned"))?;
        let (file, written) = &mut *guard;
        // The same answer recorded again (a cached answer of an earlier recording) is kept
        // once; a new answer to the same request is appended and wins on replay.
        if written.contains(&line) {
            return Ok(());
        }
        writeln!(file, "{line}")?;
        written.insert(line);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content: &str) -> Request {
        Request {
            model: "gpt-4o-mini".into(),
            messages: vec![ChatMessage {
                role: "user".into(),
                content: content.into(),
            }],
            params: Default::default(),
        }
    }

    #[test]
    fn cassettes_keep_the_reported_model_and_older_lines_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.jsonl");
        let (new, old) = (request("new"), request("old"));
        let named = Completion {
            text: "a".into(),
            input_tokens: Some(1),
            output_tokens: Some(1),
            model: Some("gpt-4o-mini-2024-07-18".into()),
        };
        Recorder::open(&path)
            .and_then(|recorder| recorder.record(&new, 0, &named))
            .expect("record");
        // A line recorded before answers named their model.
        let line = format!(
            "{{\"key\":\"{}\",\"model\":\"gpt-4o-mini\",\"trial\":0,\"messages\":[],\"completion\":{{\"text\":\"b\"}}}}\n",
            request_key(&old, 0)
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(line.as_bytes()).expect("append");
        let replay = Replay::load(&path, false).expect("cassette");
        assert_eq!(replay.complete(&new, 0), Ok(named));
        assert_eq!(
            replay.complete(&old, 0).map(|c| (c.text, c.model)),
            Ok(("b".into(), None))
        );
    }
}
