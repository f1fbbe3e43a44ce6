//! The content-addressed response cache: one small JSON file per (provider kind, base URL,
//! model, parameters, rendered messages, trial index), under `.promptgate/cache` by default.
//! Entries are written to a temporary file and renamed into place, so concurrent runs and
//! a cache restored by actions/cache never see a torn entry; an unreadable entry is a miss.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::providers::{Completion, Request};

/// The default cache directory, relative to the repository root.
pub const DEFAULT_DIR: &str = ".promptgate/cache";

/// A stored response: the completion and how long the original call took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub completion: Completion,
    pub latency_ms: u64,
}

/// Where entries live, and whether this run reads them.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    read: bool,
    /// Entry files never read: those a pull request could have written (tracked by git).
    distrusted: std::sync::Arc<std::collections::HashSet<PathBuf>>,
}

impl Cache {
    /// A cache in `dir`; with `read` false (`--no-cache`) lookups miss but fresh responses
    /// are still stored, so the next run can use them.
    pub fn new(dir: impl Into<PathBuf>, read: bool) -> Self {
        Cache {
            dir: dir.into(),
            read,
            distrusted: Default::default(),
        }
    }

    /// The same cache, never reading the entry files in `paths`.
    pub fn distrusting(mut self, paths: std::collections::HashSet<PathBuf>) -> Self {
        self.distrusted = std::sync::Arc::new(paths);
        self
    }

    pub fn get(&self, key: &str) -> Option<Entry> {
        if !self.read {
            return None;
        }
        let path = self.path(key);
        if self.distrusted.contains(&path) || self.through_link(&path) {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores an entry atomically (temporary file, then rename).
    pub fn put(&self, key: &str, entry: &Entry) -> std::io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(&serde_json::to_vec(entry)?)?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Whether an entry is reached through a symlink below the cache folder (its fan-out
    /// folder or the file itself): such an entry is wherever the link points, not an
    /// answer this cache stored.
    fn through_link(&self, path: &Path) -> bool {
        let Ok(below) = path.strip_prefix(&self.dir) else {
            return true;
        };
        let mut at = self.dir.clone();
        below.components().any(|part| {
            at.push(part);
            std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        let (fan, rest) = key.split_at(2.min(key.len()));
        self.dir.join(fan).join(format!("{rest}.json"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The identity of a request independent of who serves it: model, messages, parameters
/// and trial index. Replay cassettes are keyed by this.
pub fn request_key(request: &Request, trial: u32) -> String {
    digest(&serde_json::json!({
        "model": request.model,
        "messages": request.messages,
        "params": canonical(&Value::Object(request.params.clone())),
        "trial": trial,
    }))
}

/// The cache key: the request's identity plus the provider kind and endpoint.
pub fn key(kind: &str, base_url: &str, request: &Request, trial: u32) -> String {
    digest(&serde_json::json!({
        "kind": kind,
        "base_url": base_url,
        "request": request_key(request, trial),
    }))
}

fn digest(value: &Value) -> String {
    let hash = Sha256::digest(value.to_string().as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value with every object's keys sorted, so parameter order never changes a key.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::providers::ChatMessage;

    fn request(params: Value) -> Request {
        Request {
            model: "m".into(),
            messages: vec![ChatMessage {
                role: "user".into(),
                content: "hi".into(),
            }],
            params: params.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn keys_ignore_parameter_order_but_not_trials_or_endpoints() {
        let a = request(serde_json::json!({"temperature": 0, "max_tokens": 5}));
        let b = request(serde_json::json!({"max_tokens": 5, "temperature": 0}));
        assert_eq!(key("openai", "u", &a, 0), key("openai", "u", &b, 0));
        assert_ne!(key("openai", "u", &a, 0), key("openai", "u", &a, 1));
        assert_ne!(key("openai", "u", &a, 0), key("openai", "v", &a, 0));
        assert_eq!(request_key(&a, 2), request_key(&b, 2));
    }

    #[test]
    fn round_trip_and_corrupt_entries_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), true);
        let entry = Entry {
            completion: Completion {
                text: "ok".into(),
                input_tokens: Some(3),
                output_tokens: None,
                model: Some("m-2024-07-18".into()),
            },
            latency_ms: 12,
        };
        cache.put("abcdef", &entry).unwrap();
        assert_eq!(cache.get("abcdef"), Some(entry.clone()));
        std::fs::write(dir.path().join("ab").join("cdef.json"), "{torn").unwrap();
        assert_eq!(cache.get("abcdef"), None);
        assert_eq!(Cache::new(dir.path(), false).get("abcdef"), None);
    }

    #[test]
    fn entries_written_before_answers_named_their_model_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), true);
        std::fs::create_dir_all(dir.path().join("ab")).unwrap();
        std::fs::write(
            dir.path().join("ab").join("cdef.json"),
            r#"{"completion":{"text":"ok","input_tokens":3},"latency_ms":12}"#,
        )
        .unwrap();
        let entry = cache.get("abcdef").expect("an old entry is a hit");
        assert_eq!(
            (entry.completion.text.as_str(), entry.completion.model),
            ("ok", None)
        );
    }
}
