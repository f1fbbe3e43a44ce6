//! The JSON format: stable field names with a `schema_version`, for scripts and CI.

use serde::Serialize;

use crate::changeset::{ChangeSet, FileKind, PromptChange, Via};
use crate::git::Status;

/// Version of the JSON documents promptgate writes; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

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
