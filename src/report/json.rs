//! The JSON format: stable field names with a `schema_version`, for scripts and CI.

use serde::Serialize;

use crate::changeset::{ChangeSet, FileKind, PromptChange, Via};
use crate::git::Status;

/// Version of the JSON documents promptgate writes; bumped on incompatible changes.
pub use crate::gate::SCHEMA_VERSION;

#[derive(Serialize)]
struct ChangeSetJson<'a> {
    schema_version: u32,
    base: Option<String>,
    /// `null` when the head is the index (`--staged`).
    head: Option<String>,
    merge_base: Option<String>,
    changes: Vec<ChangeJson<'a>>,
    surfaces: &'a [String],
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    status: Status,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    similarity: Option<u16>,
    kind: FileKind,
    via: Via,
    surfaces: &'a [String],
    /// For a case file: the cases added, removed and edited.
    #[serde(skip_serializing_if = "Option::is_none")]
    cases: Option<&'a [crate::eval::case_diff::CaseChange]>,
}

/// The change set as the documented JSON object, pretty-printed.
pub fn change_set(set: &ChangeSet) -> String {
    let doc = ChangeSetJson {
        schema_version: SCHEMA_VERSION,
        base: set.base.map(|o| o.to_string()),
        head: set.head.map(|o| o.to_string()),
        merge_base: set.merge_base.map(|o| o.to_string()),
        changes: set.changes.iter().map(change).collect(),
        surfaces: &set.surfaces,
    };
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}

fn change(c: &PromptChange) -> ChangeJson<'_> {
    ChangeJson {
        status: c.status,
        path: &c.path,
        old_path: c.old_path.as_deref(),
        similarity: c.similarity,
        kind: c.kind(),
        via: c.via,
        surfaces: &c.surfaces,
        cases: c.cases.as_deref(),
    }
}

/// The kebab-case word of a file kind, as in the JSON.
pub fn kind_word(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Text => "text",
        FileKind::Binary => "binary",
        FileKind::NotUtf8 => "not-utf8",
        FileKind::Symlink => "symlink",
        FileKind::Submodule => "submodule",
    }
}

/// Streams an eval run as one JSON document, case by case as they finish, to stdout and/or
/// `DIR/eval.json`, so memory never holds every output at once:
/// `{"schema_version", "rev", "cases": [...], "surfaces": [...], "calls", "cache_hits", "spent_usd"}`.
pub struct CaseStream {
    writers: Vec<(String, Box<dyn std::io::Write + Send>)>,
    first: bool,
    failure: Option<crate::error::Error>,
}

impl CaseStream {
    pub fn new(
        stdout: bool,
        out_dir: Option<&std::path::Path>,
    ) -> Result<Self, crate::error::Error> {
        let mut writers: Vec<(String, Box<dyn std::io::Write + Send>)> = Vec::new();
        if stdout {
            writers.push((
                "stdout".into(),
                Box::new(std::io::BufWriter::new(std::io::stdout())),
            ));
        }
        if let Some(dir) = out_dir {
            std::fs::create_dir_all(dir).map_err(|e| crate::error::Error::io("create", dir, e))?;
            let path = dir.join("eval.json");
            let file = std::fs::File::create(&path)
                .map_err(|e| crate::error::Error::io("create", &path, e))?;
            writers.push((
                path.display().to_string(),
                Box::new(std::io::BufWriter::new(file)),
            ));
        }
        Ok(CaseStream {
            writers,
            first: true,
            failure: None,
        })
    }

    /// Opens the document; `shard` is `K/N` for a sharded run (for `promptgate merge`).
    pub fn begin(&mut self, rev: &str, shard: Option<&str>) -> Result<(), crate::error::Error> {
        let shard = shard
            .map(|s| format!(",\"shard\":{}", serde_json::Value::from(s)))
            .unwrap_or_default();
        let head = format!(
            "{{\"schema_version\":{SCHEMA_VERSION},\"rev\":{}{shard},\"cases\":[",
            serde_json::Value::from(rev)
        );
        self.write(head.as_bytes());
        self.take_failure()
    }

    /// Appends one case; a write failure is reported by [`CaseStream::finish`].
    pub fn case(&mut self, record: &crate::eval::run::CaseRecord) {
        let Ok(json) = serde_json::to_string(record) else {
            return;
        };
        let separator = if std::mem::take(&mut self.first) {
            "\n"
        } else {
            ",\n"
        };
        self.write(separator.as_bytes());
        self.write(json.as_bytes());
    }

    pub fn finish(
        &mut self,
        result: &crate::eval::run::RunResult,
    ) -> Result<(), crate::error::Error> {
        let tail = serde_json::json!({
            "surfaces": result.surfaces,
            "calls": result.calls,
            "cache_hits": result.cache_hits,
            "spent_usd": result.spent_usd,
        });
        let tail = tail.to_string();
        // The tail object's fields continue the document opened by `begin`.
        let fields = tail.strip_prefix('{').unwrap_or(&tail);
        self.write(format!("\n],{fields}\n").as_bytes());
        for (name, writer) in &mut self.writers {
            if let Err(e) = writer.flush() {
                self.failure
                    .get_or_insert(crate::error::Error::io("write", name.as_str(), e));
            }
        }
        self.take_failure()
    }

    fn write(&mut self, bytes: &[u8]) {
        for (name, writer) in &mut self.writers {
            if let Err(e) = writer.write_all(bytes) {
                self.failure
                    .get_or_insert(crate::error::Error::io("write", name.as_str(), e));
            }
        }
    }

    fn take_failure(&mut self) -> Result<(), crate::error::Error> {
        self.failure.take().map_or(Ok(()), Err)
    }
}

/// `report.json`: the gate's verdict, pretty-printed.
pub fn report(report: &crate::gate::Report) -> String {
    let mut text =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}
