//! Finding what a template pulls in (`include`, `import`, `from … import`, `extends` with
//! literal names) without rendering it, and resolving those names: `./` and `../` are
//! relative to the including file, anything else to the repository root. The same
//! resolution serves the template engine, so "affected through an include" and "renders"
//! agree on which file is meant.

use std::collections::{BTreeMap, VecDeque};

use crate::diagnostic::{line_of, Diagnostic};
use crate::git::{FileEntry, GitError, Snapshot};

/// One literal template reference found in a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The resolved repo-relative path.
    pub path: String,
    /// 1-based line of the tag in the source.
    pub line: usize,
}

/// What [`scan`] found: literal references and tags whose target is computed at run time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub references: Vec<Reference>,
    /// Lines of `include`/`import`/`extends` tags without a literal name.
    pub dynamic: Vec<usize>,
}

/// Resolves a template name used inside `parent` (a repo-relative path, possibly with a
/// `#messages[i]` suffix for chat messages) to a repo-relative path.
pub fn resolve(parent: &str, name: &str) -> String {
    let parent = parent.split('#').next().unwrap_or(parent);
    let relative = name.starts_with("./") || name.starts_with("../");
    let mut parts: Vec<&str> = if relative {
        let mut dir: Vec<&str> = parent.split('/').collect();
        dir.pop();
        dir
    } else {
        Vec::new()
    };
    for segment in name.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Scans a template source for literal template references, skipping comments and `raw`
/// blocks.
pub fn scan(parent: &str, source: &str) -> Scan {
    let mut out = Scan::default();
    let mut rest = 0;
    let mut in_raw = false;
    while let Some(found) = source[rest..].find('{') {
        let start = rest + found;
        let after = &source[start..];
        if after.starts_with("{#") && !in_raw {
            rest = after.find("#}").map_or(source.len(), |e| start + e + 2);
            continue;
        }
        if !after.starts_with("{%") {
            rest = start + 1;
            continue;
        }
        let Some(end) = after.find("%}") else { break };
        let body = after[2..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        rest = start + end + 2;
        let keyword = body.split_whitespace().next().unwrap_or("");
        if in_raw {
            in_raw = keyword != "endraw";
            continue;
        }
        let line = line_of(source, start);
        match keyword {
            "raw" => in_raw = true,
            "include" | "import" | "from" | "extends" => {
                let literals = string_literals(&body[keyword.len()..]);
                let names = if keyword == "include" {
                    literals
                } else {
                    literals.into_iter().take(1).collect()
                };
                if names.is_empty() {
                    out.dynamic.push(line);
                }
                for name in names {
                    out.references.push(Reference {
                        path: resolve(parent, &name),
                        line,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The quoted string literals at the start of a tag's arguments (up to a keyword such as
/// `ignore`, `with`, `as` or `import`).
fn string_literals(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = args.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                let mut literal = String::new();
                let mut escaped = false;
                for (_, d) in chars.by_ref() {
                    if escaped {
                        literal.push(d);
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == c {
                        break;
                    } else {
                        literal.push(d);
                    }
                }
                out.push(literal);
            }
            '[' | ']' | ',' => {}
            c if c.is_whitespace() => {}
            // A bare word: either a keyword ending the names, or a variable (dynamic).
            _ => break,
        }
    }
    out
}

/// Every file reachable from `roots` through literal references, with its text, and the
/// problems found on the way (missing targets, binary or non-UTF-8 targets, symlinks,
/// dynamic names).
#[derive(Debug, Default)]
pub struct Closure {
    /// Path → source, the roots included.
    pub files: BTreeMap<String, String>,
    pub problems: Vec<Diagnostic>,
}

impl Closure {
    /// Loads the roots' references from `snapshot`, transitively. Roots are (path, text)
    /// pairs already read by the caller; cycles are followed once.
    pub fn load<'a>(
        snapshot: &dyn Snapshot,
        roots: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Closure, GitError> {
        let mut closure = Closure::default();
        let mut queue: VecDeque<(String, String)> = VecDeque::new();
        for (path, text) in roots {
            if closure
                .files
                .insert(path.to_string(), text.to_string())
                .is_none()
            {
                queue.push_back((path.to_string(), text.to_string()));
            }
        }
        while let Some((path, text)) = queue.pop_front() {
            let scan = scan(&path, &text);
            for line in scan.dynamic {
                closure.problems.push(
                    Diagnostic::warning(&path, "template name is computed at run time, so promptgate cannot tell which file it uses")
                        .at_line(line)
                        .with_help("use a literal name (\"partials/x.md\") so changes to it are traced to this surface"),
                );
            }
            for reference in scan.references {
                if closure.files.contains_key(&reference.path) {
                    continue;
                }
                match read_reference(snapshot, &path, &reference)? {
                    Ok(source) => {
                        closure.files.insert(reference.path.clone(), source.clone());
                        queue.push_back((reference.path, source));
                    }
                    Err(problem) => closure.problems.push(problem),
                }
            }
        }
        Ok(closure)
    }
}

fn read_reference(
    snapshot: &dyn Snapshot,
    from: &str,
    reference: &Reference,
) -> Result<Result<String, Diagnostic>, GitError> {
    let target = &reference.path;
    let problem = |what: String, help: &str| {
        Err(Diagnostic::error(from, what)
            .at_line(reference.line)
            .with_help(help))
    };
    Ok(match snapshot.read(target)? {
        Some(FileEntry::File(bytes)) => match String::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(_) => problem(
                format!("includes `{target}`, which is not UTF-8 text"),
                "templates must be UTF-8 text",
            ),
        },
        Some(FileEntry::Symlink(_)) => problem(
            format!("includes `{target}`, which is a symlink (promptgate does not follow links)"),
            "include the link's target by its own path",
        ),
        Some(FileEntry::Submodule) => problem(
            format!("includes `{target}`, which is a submodule"),
            "include a file, not a submodule",
        ),
        None => problem(
            format!("includes `{target}`, which does not exist in {}", snapshot.describe()),
            "names are relative to the repository root, or to this file when they start with ./ or ../",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_and_root_names() {
        assert_eq!(resolve("prompts/a/x.md", "./p.md"), "prompts/a/p.md");
        assert_eq!(
            resolve("prompts/a/x.md", "../shared/p.md"),
            "prompts/shared/p.md"
        );
        assert_eq!(resolve("prompts/a/x.md", "partials/p.md"), "partials/p.md");
        assert_eq!(resolve("chat.yaml#messages[0]", "./p.md"), "p.md");
    }

    #[test]
    fn finds_literal_references_and_skips_comments_and_raw() {
        let src = "a\n{% include \"p/one.md\" %}\n{# {% include 'no.md' %} #}\n{% raw %}{% include 'raw.md' %}{% endraw %}\n{%- from './m.j2' import x -%}\n{% include ['a.md', \"b.md\"] ignore missing %}\n{% include name %}\n";
        let scan = scan("dir/t.md", src);
        let paths: Vec<_> = scan
            .references
            .iter()
            .map(|r| (r.path.as_str(), r.line))
            .collect();
        assert_eq!(
            paths,
            vec![("p/one.md", 2), ("dir/m.j2", 5), ("a.md", 6), ("b.md", 6)]
        );
        assert_eq!(scan.dynamic, vec![7]);
    }
}
