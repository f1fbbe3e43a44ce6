//! What a line of rendered text shows: placeholders (`TBD`, `N/A`, `-`, …), markers left as
//! text, invisible characters, and the words left in raw HTML once comments and tags go.

/// Characters that show nothing: whitespace (`&nbsp;` and the other Unicode spaces), the
/// zero-width and joiner characters, the byte order mark, soft hyphens, direction marks,
/// variation selectors and the blank fillers (Braille blank, Hangul fillers).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Whether raw HTML shows an image (`<img …>`, as GitHub inserts for a pasted screenshot).
pub fn shows_image(html: &str) -> bool {
    html.to_ascii_lowercase()
        .match_indices("<img")
        .any(|(at, _)| {
            html[at + 4..]
                .chars()
                .next()
                .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
        })
}

/// Removes `<!-- … -->` comments, across lines; an unclosed one hides the rest, as it does
/// when GitHub renders the description.
pub fn strip_html_comments(text: &str) -> String {
    let mut visible = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("<!--") {
        visible.push_str(&rest[..open]);
        match rest[open + 4..].find("-->") {
            Some(close) => rest = &rest[open + 4 + close + 3..],
            None => return visible,
        }
    }
    visible.push_str(rest);
    visible
}

/// What one line of rendered text holds.
pub enum LineContent {
    Text,
    Placeholder(String),
    /// Blank, or only markup: an empty bullet, a checkbox, a rule, punctuation.
    Nothing,
}

const PLACEHOLDERS: [&str; 8] = ["tbd", "todo", "n/a", "na", "-", "none", "…", "..."];

fn is_placeholder(text: &str) -> bool {
    PLACEHOLDERS.contains(&text.to_lowercase().as_str())
}

/// Judges one line of rendered text; invisible characters count as spaces.
pub fn judge_line(line: &str) -> LineContent {
    let shown: String = line
        .chars()
        .map(|c| if is_invisible(c) { ' ' } else { c })
        .collect();
    let core = strip_emphasis(strip_list_markers(&shown));
    if core.is_empty() {
        return LineContent::Nothing;
    }
    if is_placeholder(core) {
        return LineContent::Placeholder(core.to_string());
    }
    let bare =
        core.trim_matches(|c: char| is_punctuation(c) || is_emphasis(c) || c.is_whitespace());
    if bare.is_empty() {
        LineContent::Nothing
    } else if is_placeholder(bare) {
        LineContent::Placeholder(bare.to_string())
    } else {
        LineContent::Text
    }
}

/// Drops HTML tags such as `<br>` or `<details>`, which carry no words, and declarations
/// and processing instructions (`<!DOCTYPE …>`, `<?…?>`), which show nothing.
pub fn strip_html_tags(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        kept.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        match after.find('>') {
            Some(close) if starts_tag => rest = &after[close + 1..],
            _ => {
                kept.push('<');
                rest = after;
            }
        }
    }
    kept.push_str(rest);
    kept
}

/// Strips what reads as leading block quote markers, list bullets (`-`, `*`, `+`, `1.`,
/// `1)`) and task checkboxes in text that Markdown left as text (`\- TBD`, `[ ] n/a`).
fn strip_list_markers(line: &str) -> &str {
    let mut rest = line.trim();
    loop {
        let next = strip_one_marker(rest).trim_start();
        if next.len() == rest.len() {
            return rest;
        }
        rest = next;
    }
}

fn strip_one_marker(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix('>') {
        return rest;
    }
    for checkbox in ["[ ]", "[x]", "[X]"] {
        if let Some(rest) = text.strip_prefix(checkbox) {
            return rest;
        }
    }
    if let Some(rest) = text.strip_prefix(['-', '*', '+']) {
        // A bullet needs a space after it; a lone "-" is a placeholder, not a bullet.
        if rest.starts_with([' ', '\t']) {
            return rest;
        }
    }
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if (1..=9).contains(&digits) {
        let rest = &text[digits..];
        if let Some(after) = rest.strip_prefix(['.', ')']) {
            if after.is_empty() || after.starts_with([' ', '\t']) {
                return after;
            }
        }
    }
    text
}

fn strip_emphasis(text: &str) -> &str {
    text.trim_matches(|c: char| is_emphasis(c) || c.is_whitespace())
}

fn is_emphasis(c: char) -> bool {
    matches!(c, '*' | '_' | '~' | '`')
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c, '…' | '–' | '—' | '“' | '”' | '‘' | '’' | '«' | '»')
}
