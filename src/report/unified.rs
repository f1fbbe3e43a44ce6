//! `prompts.diff`: the prompt changes as a unified diff, for tools and for attaching to a
//! review.

use std::fmt::Write;

use super::textdiff::LineTag;
use super::{body, Body};
use crate::changeset::ChangeSet;

pub fn change_set(set: &ChangeSet) -> String {
    let mut out = String::new();
    for change in &set.changes {
        let old = change.old_path.as_deref().unwrap_or(&change.path);
        let _ = writeln!(out, "diff --promptgate a/{old} b/{}", change.path);
        match body(change) {
            Body::Note(note) => {
                let _ = writeln!(out, "# {note}");
            }
            Body::Text(diff) => {
                if let Some(eol) = &diff.line_endings {
                    let _ = writeln!(out, "# line endings changed: {eol}");
                }
                let _ = writeln!(out, "--- a/{old}\n+++ b/{}", change.path);
                for hunk in &diff.hunks {
                    let _ = writeln!(out, "{}", hunk.header());
                    for line in &hunk.lines {
                        let sign = match line.tag {
                            LineTag::Context => ' ',
                            LineTag::Removed => '-',
                            LineTag::Added => '+',
                        };
                        let _ = writeln!(out, "{sign}{}", line.text());
                    }
                }
            }
        }
    }
    out
}
