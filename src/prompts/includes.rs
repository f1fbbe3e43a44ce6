//! Finding what a template pulls in (`include`, `import`, `from … import`, `extends` with
//! literal names) without rendering it, and resolving those names: `./` and `../` are
//! relative to the including file, anything else to the repository root. The same
//! resolution serves the template engine, so "affected through an include" and "renders"
//! agree on which file is meant.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::diagnostic::Diagnostic;
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
    for tag in Tags::new(source).filter(|t| t.kind == TagKind::Block) {
        let keyword = tag.keyword();
        if !matches!(keyword, "include" | "import" | "from" | "extends") {
            continue;
        }
        let literals = string_literals(&tag.trimmed()[keyword.len()..]);
        let names = if keyword == "include" {
            literals
        } else {
            literals.into_iter().take(1).collect()
        };
        if names.is_empty() {
            out.dynamic.push(tag.line);
        }
        for name in names {
            out.references.push(Reference {
                path: resolve(parent, &name),
                line: tag.line,
            });
        }
    }
    out
}

/// The 1-based line of `source` where `variable` is first used as a name in a `{{ … }}` or
/// `{% … %}` tag: not inside a string, not as an attribute (`x.variable`) and not as a
/// keyword argument (`f(variable=1)`). `None` when no such use is found.
pub fn first_use(source: &str, variable: &str) -> Option<usize> {
    Tags::new(source)
        .filter(|t| t.kind != TagKind::Comment)
        .find_map(|tag| {
            names(tag.body)
                .find(|(_, name)| *name == variable)
                .map(|(offset, _)| tag.line + tag.body[..offset].matches('\n').count())
        })
}

/// [`first_use`] of every name at once, in one pass over the source (linear time, where
/// asking [`first_use`] for each of a template's variables would cost their number times
/// the source's length): name → 1-based line of its first use.
pub fn first_uses(source: &str) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    for tag in Tags::new(source).filter(|t| t.kind != TagKind::Comment) {
        // Names come in order, so the body's lines are counted as they go.
        let (mut line, mut counted) = (tag.line, 0);
        for (offset, name) in names(tag.body) {
            line += tag.body[counted..offset].matches('\n').count();
            counted = offset;
            out.entry(name).or_insert(line);
        }
    }
    out
}

/// The names in a tag's body that could be variables, with their byte offsets.
fn names(body: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut previous = b' ';
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'"' || c == b'\'' {
                // A string literal, escapes included; unterminated ones run to the end.
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                previous = c;
            } else if c.is_ascii_alphabetic() || c == b'_' {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let attribute = previous == b'.';
                previous = b'a';
                let rest = body[i..].trim_start();
                let keyword_argument = rest.starts_with('=') && !rest.starts_with("==");
                if !attribute && !keyword_argument {
                    return Some((start, &body[start..i]));
                }
            } else if c.is_ascii_digit() {
                // A number, and any letters glued to it (`1e5`), is no name.
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                previous = b'0';
            } else {
                if !c.is_ascii_whitespace() {
                    previous = c;
                }
                i += 1;
            }
        }
        None
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// `{% … %}`
    Block,
    /// `{{ … }}`
    Expression,
    /// `{# … #}`
    Comment,
}

/// One tag of a template source, outside `raw` blocks.
#[derive(Debug)]
struct Tag<'s> {
    kind: TagKind,
    /// What is between the delimiters.
    body: &'s str,
    /// 1-based line of the opening delimiter.
    line: usize,
}

impl<'s> Tag<'s> {
    /// The body without whitespace-control markers and surrounding whitespace.
    fn trimmed(&self) -> &'s str {
        self.body
            .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace())
    }

    /// The first word of a block tag (`include`, `for`, `endraw`, …).
    fn keyword(&self) -> &'s str {
        self.trimmed().split_whitespace().next().unwrap_or("")
    }
}

/// The tags of a template source in order, as the engine's lexer finds them with the
/// default delimiters; text inside `{% raw %}` blocks is skipped. Never panics: the
/// closing delimiter is searched after the opening one (so in `{%}` the `%` opens the tag
/// and does not also close it), and an unclosed block or comment ends the scan. Lines are counted as
/// the scan goes, so a whole source costs linear time.
struct Tags<'s> {
    source: &'s str,
    /// Byte offset where the search goes on.
    rest: usize,
    /// Line at `counted`.
    line: usize,
    counted: usize,
    in_raw: bool,
    /// A `{{` found no `}}` after it.
    unclosed_expression: bool,
}

impl<'s> Tags<'s> {
    fn new(source: &'s str) -> Self {
        Tags {
            source,
            rest: 0,
            line: 1,
            counted: 0,
            in_raw: false,
            unclosed_expression: false,
        }
    }

    fn line_at(&mut self, offset: usize) -> usize {
        self.line += self.source[self.counted..offset].matches('\n').count();
        self.counted = offset;
        self.line
    }
}

impl<'s> Iterator for Tags<'s> {
    type Item = Tag<'s>;

    fn next(&mut self) -> Option<Tag<'s>> {
        loop {
            let start = self.rest + self.source.get(self.rest..)?.find('{')?;
            let after = &self.source[start..];
            let (kind, delimiter) = match after.as_bytes().get(1) {
                Some(b'%') => (TagKind::Block, "%}"),
                Some(b'{') if !self.in_raw && !self.unclosed_expression => {
                    (TagKind::Expression, "}}")
                }
                Some(b'#') if !self.in_raw => (TagKind::Comment, "#}"),
                _ => {
                    self.rest = start + 1;
                    continue;
                }
            };
            let Some(end) = closing(after, delimiter) else {
                if kind == TagKind::Expression {
                    // Not a tag after all; blocks after it still count. No later `{{`
                    // closes either, so none is searched again (linear time).
                    self.unclosed_expression = true;
                    self.rest = start + 1;
                    continue;
                }
                self.rest = self.source.len();
                return None;
            };
            self.rest = start + end + 2;
            let tag = Tag {
                kind,
                body: &after[2..end],
                line: self.line_at(start),
            };
            if self.in_raw {
                self.in_raw = tag.keyword() != "endraw";
                continue;
            }
            if kind == TagKind::Block && tag.keyword() == "raw" {
                self.in_raw = true;
                continue;
            }
            return Some(tag);
        }
    }
}

/// Where `delimiter` closes the tag opened at the start of `tag` (two ASCII bytes), as a
/// byte offset into `tag`.
fn closing(tag: &str, delimiter: &str) -> Option<usize> {
    tag.get(2..)?.find(delimiter).map(|end| end + 2)
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
        cache_large_trees();
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

/// The largest directory listing (a git tree object) libgit2 keeps parsed in its object
/// cache: 16 MiB, a directory of about 400,000 files. libgit2's default is 4 KiB (about
/// 100 files): above it, every read of a file from a committed tree re-inflates,
/// re-hashes and re-parses the file's whole directory, so following includes through a
/// directory of 10,000 partials costs 10,000 x 10,000 entries (43 s in `diff`).
const TREE_CACHE_LIMIT: usize = 16 << 20;

/// Raises libgit2's object-cache limit for trees to [`TREE_CACHE_LIMIT`], once per process,
/// so that reading a closure costs linear time in the files it reads.
fn cache_large_trees() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: this writes a libgit2 global without synchronisation, so no other thread
        // may use libgit2 meanwhile. The first closure of a process is loaded on the main
        // thread before any thread that uses libgit2 exists: `diff`, `validate` and the
        // hooks start none, and `eval`, `check` and `drill` load their suites and change
        // sets before they start the evaluation runtime. The call cannot fail for a tree
        // limit; if it did, reads would only stay slow.
        let _ =
            unsafe { git2::opts::set_cache_object_limit(git2::ObjectType::Tree, TREE_CACHE_LIMIT) };
    });
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

    #[test]
    fn a_delimiter_never_closes_its_own_tag() {
        for source in [
            "{%}",
            "{#}",
            "{{}",
            "{%",
            "é{%}日",
            "{%}\n{#}\n{{}",
            "{% raw %}{%}",
        ] {
            let _ = scan("t.md", source);
            let _ = first_use(source, "x");
        }
        let scan = scan("t.md", "{%} %}\n{#} #}{% include 'x.md' %}{{ x }");
        assert_eq!(
            scan.references,
            vec![Reference {
                path: "x.md".into(),
                line: 2
            }]
        );
    }

    #[test]
    fn first_use_skips_strings_attributes_keyword_arguments_and_comments() {
        let source = "{# tone #}\n{{ 'tone' }}{{ a.tone }}{{ f(tone=1) }}\n{% raw %}{{ tone }}{% endraw %}\n{% if x == 1 and\n tone %}";
        assert_eq!(first_use(source, "tone"), Some(5));
        assert_eq!(first_use(source, "x"), Some(4));
        assert_eq!(first_use(source, "f"), Some(2));
        assert_eq!(first_use(source, "nothing"), None);
        let all = first_uses(source);
        for name in ["tone", "x", "f", "nothing"] {
            assert_eq!(all.get(name).copied(), first_use(source, name), "{name}");
        }
    }
}
