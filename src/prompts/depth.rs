//! A bound on how deeply one template tag nests, checked before the template engine sees
//! the source. The engine parses a chain such as `q|upper|upper|…`, `a ~ b ~ …`, `x.a.a…`
//! or `not not …` into a tree as deep as the chain is long, and compiles, walks and drops
//! that tree recursively: a 600 KB chain overflows the stack and aborts the process. A tag
//! nested deeper than [`MAX_TAG_DEPTH`] is reported at its line instead, and the template
//! is not compiled.
//!
//! The tags are found exactly as the engine's lexer finds them with the default delimiters
//! (string literals and open brackets do not end a tag, `raw` blocks are skipped as the
//! engine skips them), so no text the engine parses as an expression escapes the count.
//! Where the two could part ways the engine stops with a syntax error first, and what
//! follows is never parsed.

/// The deepest a `{{ … }}` or `{% … %}` tag may nest: in one operand, the operators,
/// filters, tests, attribute accesses, subscripts and calls chained together, plus the
/// brackets around them. Real prompts stay under 20; the engine needs about 200 bytes of
/// stack per level in a debug build, so 500 levels take about 100 KB of a thread's 2 MB.
pub const MAX_TAG_DEPTH: usize = 500;

/// The deepest `if` statements may nest, where every `elif` counts as one more level: the
/// engine parses `{% elif %}` as an `if` inside the previous branch's `else`, recursively
/// and without its own bound (10,000 `elif`s overflow the stack; other blocks it caps at
/// about 150). Real prompts use a few; the engine needs about 2 KB of stack per level in a
/// debug build, so 300 levels take about 600 KB of a thread's 2 MB.
pub const MAX_IF_DEPTH: usize = 300;

/// What nests too deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// One tag's expression, beyond [`MAX_TAG_DEPTH`].
    Tag,
    /// `if`s and their `elif`s, beyond [`MAX_IF_DEPTH`].
    IfChain,
}

/// A tag nested too deep: where it starts, and how deep it got before the count stopped
/// (just over the bound: the count stops there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line of the tag's opening delimiter.
    pub line: usize,
    pub depth: usize,
    pub what: Nesting,
}

/// The first tag of `source` that nests deeper than [`MAX_TAG_DEPTH`], or the first `if`
/// or `elif` beyond [`MAX_IF_DEPTH`], if any. Linear in the length of the source.
pub fn too_deep(source: &str) -> Option<TooDeep> {
    Lexer {
        bytes: source.as_bytes(),
        source,
        at: 0,
        paren_balance: 0,
    }
    .run()
}

struct Lexer<'s> {
    source: &'s str,
    bytes: &'s [u8],
    at: usize,
    /// Open brackets, carried from tag to tag as the engine's lexer carries them: a tag
    /// only ends outside brackets.
    paren_balance: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Variable,
    Block,
}

impl Lexer<'_> {
    fn run(mut self) -> Option<TooDeep> {
        let mut line = 1;
        let mut counted = 0;
        // The `elif`s of every open `if`.
        let mut ifs: Vec<usize> = Vec::new();
        loop {
            // Template data, up to the next `{{`, `{%` or `{#`.
            let start = self.at + memchr(&self.bytes[self.at..], b'{')?;
            let marker = match self.bytes.get(start + 1) {
                Some(b'{') => Marker::Variable,
                Some(b'%') => Marker::Block,
                Some(b'#') => {
                    let skip = start + 2 + ws_len(self.bytes.get(start + 2));
                    self.at = skip + find(&self.bytes[skip..], b"#}")? + 2;
                    continue;
                }
                _ => {
                    self.at = start + 1;
                    continue;
                }
            };
            let skip = start + 2 + ws_len(self.bytes.get(start + 2));
            if marker == Marker::Block {
                if let Some(raw) = basic_tag(&self.source[skip..], "raw", false) {
                    self.at = self.skip_raw(skip + raw)?;
                    continue;
                }
            }
            self.at = skip;
            line += self.source[counted..start].matches('\n').count();
            counted = start;
            if marker == Marker::Block {
                let keyword = keyword(&self.bytes[skip..]);
                match keyword {
                    b"if" => ifs.push(0),
                    b"elif" => {
                        if let Some(elifs) = ifs.last_mut() {
                            *elifs += 1;
                        }
                    }
                    b"endif" => {
                        ifs.pop();
                    }
                    _ => {}
                }
                let depth = ifs.len() + ifs.iter().sum::<usize>();
                if matches!(keyword, b"if" | b"elif") && depth > MAX_IF_DEPTH {
                    return Some(TooDeep {
                        line,
                        depth,
                        what: Nesting::IfChain,
                    });
                }
            }
            let depth = self.tag(marker);
            if depth > MAX_TAG_DEPTH {
                return Some(TooDeep {
                    line,
                    depth,
                    what: Nesting::Tag,
                });
            }
        }
    }

    /// After `{% raw %}`: the offset after the first `{% endraw %}`, or `None` when the
    /// block never ends (the engine's syntax error).
    fn skip_raw(&self, from: usize) -> Option<usize> {
        let mut at = from;
        loop {
            at += find(&self.bytes[at..], b"{%")? + 2;
            if let Some(end) = basic_tag(&self.source[at..], "endraw", true) {
                return Some(at + end);
            }
        }
    }

    /// Lexes one tag's body up to its closing delimiter and returns how deep it nests:
    /// at every token, the operators chained so far in the current operand of every open
    /// bracket, plus the brackets. A `,` or `:` starts a new operand (list items, call
    /// arguments, dict entries and slice bounds are siblings, not nested).
    fn tag(&mut self, marker: Marker) -> usize {
        let end: &[u8] = match marker {
            Marker::Variable => b"}}",
            Marker::Block => b"%}",
        };
        let mut levels: Vec<usize> = vec![0];
        let mut depth = 0;
        while self.at < self.bytes.len() {
            let rest = &self.bytes[self.at..];
            let c = rest[0];
            if c.is_ascii_whitespace() {
                self.at += 1;
                continue;
            }
            if self.paren_balance == 0 {
                if matches!(c, b'-' | b'+') && rest[1..].starts_with(end) {
                    self.at += 3;
                    return depth;
                }
                if rest.starts_with(end) {
                    self.at += 2;
                    return depth;
                }
            }
            let top = levels.len() - 1;
            match c {
                b'"' | b'\'' => {
                    self.at = string_end(self.bytes, self.at, c);
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    self.paren_balance += 1;
                    levels[top] += 1;
                    levels.push(0);
                    self.at += 1;
                }
                b')' | b']' | b'}' => {
                    self.paren_balance -= 1;
                    if levels.len() > 1 {
                        levels.pop();
                    }
                    self.at += 1;
                }
                b',' | b':' => {
                    levels[top] = 0;
                    self.at += 1;
                }
                b'+' | b'-' | b'*' | b'/' | b'%' | b'.' | b'~' | b'|' | b'>' | b'<' | b'!'
                | b'=' => {
                    // Two-character operators (`//`, `**`, `==`, …) count once; `=`
                    // alone (assignment, keyword argument) counts too, which only
                    // overestimates.
                    let two = rest.get(..2).is_some_and(|p| {
                        matches!(p, b"//" | b"**" | b"==" | b"!=" | b">=" | b"<=")
                    });
                    levels[top] += 1;
                    self.at += if two { 2 } else { 1 };
                }
                c if c.is_ascii_alphanumeric() || c == b'_' => {
                    let len = rest
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                        .count();
                    if matches!(
                        &rest[..len],
                        b"and" | b"or" | b"not" | b"is" | b"in" | b"if" | b"else"
                    ) {
                        levels[top] += 1;
                    }
                    self.at += len;
                }
                _ => {
                    // Anything else is a syntax error to the engine; step over the whole
                    // character.
                    self.at += 1;
                    while self.at < self.bytes.len() && !self.source.is_char_boundary(self.at) {
                        self.at += 1;
                    }
                }
            }
            depth = depth.max(levels.iter().sum::<usize>() + levels.len() - 1);
            if depth > MAX_TAG_DEPTH {
                return depth;
            }
        }
        depth
    }
}

/// The offset after a string literal starting at `at` with quote `delimiter`, escapes
/// honoured as the engine does; an unterminated string runs to the end.
fn string_end(bytes: &[u8], at: usize, delimiter: u8) -> usize {
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == delimiter => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The first word of a block tag's body (`if`, `elif`, `endif`, …), as the engine's
/// lexer reads the first token: after whitespace, the identifier characters.
fn keyword(body: &[u8]) -> &[u8] {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let len = body[start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    &body[start..start + len]
}

/// The length of a whitespace-control marker (`-` or `+`) after an opening delimiter.
fn ws_len(byte: Option<&u8>) -> usize {
    usize::from(matches!(byte, Some(b'-' | b'+')))
}

/// When `text` starts with the rest of a tag holding only `name` (`raw`, `endraw`) and
/// whitespace control, as the engine recognises `{% raw %}` and `{% endraw %}`: the length
/// up to and including `%}`.
fn basic_tag(text: &str, name: &str, skip_ws_control: bool) -> Option<usize> {
    let mut rest = text;
    if skip_ws_control {
        rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    }
    rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    rest = rest.strip_prefix(name)?;
    rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    rest = rest.strip_prefix("%}")?;
    Some(text.len() - rest.len())
}

fn memchr(bytes: &[u8], needle: u8) -> Option<usize> {
    bytes.iter().position(|b| *b == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(source: &str) -> Option<usize> {
        too_deep(source).map(|t| t.depth)
    }

    #[test]
    fn long_chains_are_too_deep_at_their_line() {
        let n = MAX_TAG_DEPTH + 1;
        for chain in [
            format!("{{{{ q{} }}}}", "|upper".repeat(n)),
            format!("{{{{ q{} }}}}", " ~ q".repeat(n)),
            format!("{{{{ q{} }}}}", ".a".repeat(n)),
            format!("{{{{ {}q }}}}", "not ".repeat(n)),
            format!("{{{{ {}1 }}}}", "-".repeat(n)),
            format!("{{{{ {}q{} }}}}", "(".repeat(n), ")".repeat(n)),
            format!("{{% set x = q{} %}}", "|upper".repeat(n)),
            format!("{{{{ q{} }}}}", "[0]".repeat(n)),
        ] {
            let source = format!("line one\n{{# c #}}\n{chain}\n");
            let found = too_deep(&source).unwrap_or_else(|| panic!("{}", &chain[..40]));
            assert_eq!(found.line, 3, "{}", &chain[..40]);
            assert!(found.depth > MAX_TAG_DEPTH);
        }
    }

    #[test]
    fn real_prompts_are_shallow() {
        let source = "{% for x in items if x.ok and not x.hidden %}- {{ x.q | trim | upper }}: {{ (x.a ~ '!') | default('none') }}\n{% endfor %}{% set examples = [{'q': 'a.b', 'a': 1}, {'q': 'c', 'a': 2}] + extra[:3] %}";
        assert_eq!(depth(source), None);
        // A long literal list is wide, not deep.
        let list: Vec<String> = (0..5000)
            .map(|i| format!("{{'q': x.a{i}|upper}}"))
            .collect();
        assert_eq!(
            depth(&format!("{{% set e = [{}] %}}", list.join(", "))),
            None
        );
    }

    /// Delimiters inside strings or brackets do not end a tag, comments and raw blocks
    /// hide nothing the engine parses, so a chain cannot be smuggled past the count.
    #[test]
    fn chains_cannot_hide_behind_delimiters() {
        let chain = "|upper".repeat(MAX_TAG_DEPTH + 1);
        for source in [
            format!("{{{{ \"}}}}\" ~ q{chain} }}}}"),
            format!("{{{{ '}}}}\\'' ~ q{chain} }}}}"),
            format!("{{{{ {{'a': {{'b': 1}}}} ~ q{chain} }}}}"),
            format!("{{% raw %}}{{{{ \"{{% endraw %}}{{{{ q{chain} }}}}"),
            format!("{{# {{{{ \" #}}{{{{ q{chain} }}}}"),
            format!("{{%- raw -%}}x{{%- endraw -%}}{{{{ q{chain} }}}}"),
        ] {
            assert!(too_deep(&source).is_some(), "{}", &source[..30]);
        }
        // Inside a raw block, or a comment, text is not parsed.
        assert_eq!(
            depth(&format!("{{% raw %}}{{{{ q{chain} }}}}{{% endraw %}}")),
            None
        );
        assert_eq!(depth(&format!("{{# {{{{ q{chain} }}}} #}}")), None);
    }

    #[test]
    fn long_elif_chains_are_too_deep_at_their_line() {
        let chain = |n: usize| {
            format!(
                "{{% if a %}}x\n{}{{% endif %}}",
                "{%- elif a -%}y\n".repeat(n)
            )
        };
        assert_eq!(too_deep(&chain(MAX_IF_DEPTH - 1)), None);
        let found = too_deep(&chain(10_000)).expect("too deep");
        assert_eq!(found.what, Nesting::IfChain);
        assert_eq!(found.line, MAX_IF_DEPTH + 1);
        // Closed chains do not add up; nested ones do.
        let closed = chain(MAX_IF_DEPTH / 2);
        assert_eq!(too_deep(&closed.repeat(10)), None);
        let nested = format!(
            "{{% if a %}}{}{{% if b %}}{}{{% endif %}}{{% endif %}}",
            "{% elif a %}".repeat(MAX_IF_DEPTH / 2),
            "{% elif b %}".repeat(MAX_IF_DEPTH / 2)
        );
        assert!(too_deep(&nested).is_some());
        // Inline `if` expressions and `if`s inside raw blocks are no statements.
        let inline = "{{ a if b else c }}{% raw %}{% if a %}{% endraw %}".repeat(1000);
        assert_eq!(too_deep(&inline), None);
    }

    #[test]
    fn odd_sources_never_panic() {
        for source in [
            "{",
            "{{",
            "{%",
            "{#",
            "{{ 'x",
            "{{ (",
            "{% raw %}",
            "{% raw %}{%",
            "{{ é日 }}",
            "{{-",
            "{%-}",
            "{{ \"\\",
            "}}",
            "{{ ) ) }}{{ x }}",
        ] {
            let _ = too_deep(source);
        }
    }
}
