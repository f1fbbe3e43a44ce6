//! Prompt globs: `*` stays inside a directory, `**` crosses directories, matching is on the
//! repo-relative `/` path. Also derives the literal directory each glob starts from, so a
//! listing walks only those subtrees instead of the whole repository.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone)]
pub struct PromptGlobs {
    set: GlobSet,
    /// The patterns as written, in order.
    pub patterns: Vec<String>,
}

impl PromptGlobs {
    /// Compiles the patterns; the error says which pattern is bad and why.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns {
            let glob = GlobBuilder::new(pattern.trim_start_matches("./"))
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("invalid glob `{pattern}`: {}", e.kind()))?;
            builder.add(glob);
            kept.push(pattern.to_string());
        }
        let set = builder.build().map_err(|e| format!("invalid globs: {e}"))?;
        Ok(PromptGlobs {
            set,
            patterns: kept,
        })
    }

    pub fn is_match(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    /// Indexes of the patterns matching `path`.
    pub fn matching_patterns(&self, path: &str) -> Vec<usize> {
        self.set.matches(path)
    }

    /// The literal directories the patterns start from (`""` for the root), without
    /// directories already covered by a shorter one.
    pub fn walk_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.patterns.iter().map(|p| literal_dir(p)).collect();
        roots.sort();
        roots.dedup();
        let mut kept: Vec<String> = Vec::new();
        for root in roots {
            let covered = kept
                .iter()
                .any(|k| k.is_empty() || root == *k || root.starts_with(&format!("{k}/")));
            if !covered {
                kept.push(root);
            }
        }
        kept
    }
}

/// The leading directory components of a glob that contain no glob syntax.
fn literal_dir(pattern: &str) -> String {
    let pattern = pattern.trim_start_matches("./");
    let components: Vec<&str> = pattern.split('/').collect();
    let literal: Vec<&str> = components
        .iter()
        .take(components.len().saturating_sub(1))
        .take_while(|c| !c.contains(['*', '?', '[', ']', '{', '}', '\\']))
        .copied()
        .collect();
    literal.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_stays_in_directory_and_double_star_crosses() {
        let globs = PromptGlobs::new(["prompts/*.md", "chat/**/*.yaml"]).unwrap();
        assert!(globs.is_match("prompts/a.md"));
        assert!(!globs.is_match("prompts/sub/a.md"));
        assert!(globs.is_match("chat/a.yaml"));
        assert!(globs.is_match("chat/x/y/a.yaml"));
        assert!(globs.is_match("prompts/with space é.md"));
    }

    #[test]
    fn walk_roots_are_literal_prefixes_without_overlap() {
        let globs =
            PromptGlobs::new(["prompts/support/**/*.md", "prompts/*.md", "x/a.md"]).unwrap();
        assert_eq!(
            globs.walk_roots(),
            vec!["prompts".to_string(), "x".to_string()]
        );
        let all = PromptGlobs::new(["**/*.md", "prompts/a.md"]).unwrap();
        assert_eq!(all.walk_roots(), vec![String::new()]);
    }

    #[test]
    fn bad_glob_names_the_pattern() {
        let err = PromptGlobs::new(["prompts/[a.md"]).unwrap_err();
        assert!(err.contains("prompts/[a.md"), "{err}");
    }
}
