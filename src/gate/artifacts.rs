//! "No artifact, no review": finds the required artifacts (expected user impact, rollback
//! plan, or custom ones) as Markdown sections in the PR description or in change records, and
//! says for each whether it is written, where, or why it counts as missing. Owns the small
//! Markdown reading this needs: ATX and Setext headings, code fences, HTML comments, and the
//! judgement of whether a section body is real text or an unfilled template.

use serde::{Deserialize, Serialize};

/// Whether one required artifact was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactStatus {
    /// "impact" | "rollback" (or a custom name).
    pub name: String,
    pub found: bool,
    /// Where it was found: the change record's path, or "PR description".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When missing: why, in words a PR author acts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Names of the headings that hold each artifact.
#[derive(Debug, Clone)]
pub struct Headings {
    pub by_artifact: Vec<(String, Vec<String>)>,
}

impl Default for Headings {
    fn default() -> Self {
        fn owned(names: &[&str]) -> Vec<String> {
            names.iter().map(|name| name.to_string()).collect()
        }
        Headings {
            by_artifact: vec![
                (
                    "impact".to_string(),
                    owned(&["Expected user impact", "User impact", "Impact"]),
                ),
                (
                    "rollback".to_string(),
                    owned(&["Rollback plan", "Rollback"]),
                ),
            ],
        }
    }
}

impl Headings {
    /// The heading names for `artifact`; an artifact with none configured is headed by its
    /// own name (e.g. "security review").
    pub fn names_for(&self, artifact: &str) -> Vec<String> {
        self.by_artifact
            .iter()
            .find(|(name, names)| name.eq_ignore_ascii_case(artifact) && !names.is_empty())
            .map(|(_, names)| names.clone())
            .unwrap_or_else(|| vec![artifact.to_string()])
    }
}

/// One document to search: where it comes from and its Markdown.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// "PR description" or the change record's path; quoted in statuses and reasons.
    pub source: &'a str,
    pub markdown: &'a str,
}

/// A heading and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading text as written (ATX closing `#`s removed, Setext lines joined).
    pub heading: String,
    /// 1–6 for ATX headings, 1 (`===`) or 2 (`---`) for Setext headings.
    pub level: u8,
    /// The lines up to the next heading of the same or a higher level, subsections
    /// included; surrounding blank lines trimmed.
    pub body: String,
}

/// Checks each required artifact against the documents, in order: the first document with a
/// written section wins. If none has one, the reason names the first empty, comment-only or
/// placeholder section found, which beats saying there is no section at all.
pub fn check(
    required: &[String],
    documents: &[Document<'_>],
    headings: &Headings,
) -> Vec<ArtifactStatus> {
    let parsed: Vec<(&str, Vec<Section>)> = documents
        .iter()
        .map(|document| (document.source, sections(document.markdown)))
        .collect();
    required
        .iter()
        .map(|artifact| check_artifact(artifact, &parsed, &headings.names_for(artifact)))
        .collect()
}

fn check_artifact(
    artifact: &str,
    documents: &[(&str, Vec<Section>)],
    names: &[String],
) -> ArtifactStatus {
    let wanted: Vec<String> = names.iter().map(|name| normalize_heading(name)).collect();
    let mut first_unwritten: Option<String> = None;
    for (source, sections) in documents {
        let matching = sections
            .iter()
            .filter(|section| wanted.contains(&normalize_heading(&section.heading)));
        for section in matching {
            match judge_body(&section.body) {
                BodyJudgement::Written => return found_in(artifact, source),
                unwritten => {
                    first_unwritten
                        .get_or_insert_with(|| unwritten_reason(section, source, &unwritten));
                }
            }
        }
    }
    let reason = first_unwritten.unwrap_or_else(|| no_section_reason(names));
    ArtifactStatus {
        name: artifact.to_string(),
        found: false,
        source: None,
        reason: Some(reason),
    }
}

fn found_in(artifact: &str, source: &str) -> ArtifactStatus {
    ArtifactStatus {
        name: artifact.to_string(),
        found: true,
        source: Some(source.to_string()),
        reason: None,
    }
}

fn unwritten_reason(section: &Section, source: &str, judgement: &BodyJudgement) -> String {
    let visible_heading = strip_html_comments(&section.heading);
    let heading = visible_heading.trim();
    let problem = match judgement {
        BodyJudgement::Placeholder(text) => format!("is only a placeholder ({text})"),
        BodyJudgement::CommentOnly => {
            "holds only an HTML comment, which is hidden and does not count".to_string()
        }
        BodyJudgement::Empty | BodyJudgement::Written => "is empty".to_string(),
    };
    format!("section \"{heading}\" in {source} {problem}")
}

fn no_section_reason(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!(
        "no {} section in the PR description or in a .promptgate/changes/*.md record of this change",
        quoted.join(" / ")
    )
}

/// A heading reduced for comparison: case, surrounding whitespace, emphasis markers and a
/// trailing colon do not matter, so "**Rollback plan:**" matches "Rollback plan"; neither does
/// a comment such as "Rollback plan <!-- required -->".
fn normalize_heading(heading: &str) -> String {
    let words: Vec<String> = strip_html_comments(heading)
        .split_whitespace()
        .map(|word| {
            word.replace(['*', '`'], "")
                .trim_matches('_')
                .to_lowercase()
        })
        .filter(|word| !word.is_empty())
        .collect();
    let joined = words.join(" ");
    joined
        .trim_end_matches(|c: char| c == ':' || c.is_whitespace())
        .to_string()
}

/// The sections of a Markdown document, in order, nested ones included.
pub fn sections(markdown: &str) -> Vec<Section> {
    let lines = split_lines(markdown.trim_start_matches('\u{feff}'));
    let kinds = classify_lines(&lines, true);
    let mut result = Vec::new();
    for (start, kind) in kinds.iter().enumerate() {
        let LineKind::Heading { level, text } = kind else {
            continue;
        };
        let body_start = (start + 1..lines.len())
            .find(|&i| kinds[i] != LineKind::HeadingPart)
            .unwrap_or(lines.len());
        let body_end = (body_start..lines.len())
            .find(|&i| matches!(&kinds[i], LineKind::Heading { level: next, .. } if next <= level))
            .unwrap_or(lines.len());
        result.push(Section {
            heading: text.clone(),
            level: *level,
            body: trim_blank_lines(&lines[body_start..body_end]),
        });
    }
    result
}

/// Lines without their `\n`, `\r\n` or stray trailing `\r`.
fn split_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect()
}

fn trim_blank_lines(lines: &[&str]) -> String {
    let is_blank = |line: &&str| line.trim().is_empty();
    let first = lines.iter().position(|line| !is_blank(line));
    let last = lines.iter().rposition(|line| !is_blank(line));
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

/// Whether a section body counts as written (not empty, comment-only or placeholder).
pub fn is_substantive(body: &str) -> bool {
    judge_body(body) == BodyJudgement::Written
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BodyJudgement {
    Written,
    /// Nothing but blank lines or bare structure (empty bullets, checkboxes, subheadings).
    Empty,
    /// Nothing but HTML comments (and bare structure).
    CommentOnly,
    /// Nothing but placeholders such as TBD; holds the first one as written.
    Placeholder(String),
}

fn judge_body(body: &str) -> BodyJudgement {
    let lines = split_lines(body);
    let kinds = classify_lines(&lines, false);
    // Headings and fence markers are structure; the text under them is what counts.
    let content: Vec<&str> = lines
        .iter()
        .zip(&kinds)
        .filter(|(_, kind)| matches!(kind, LineKind::Text | LineKind::Code))
        .map(|(line, _)| *line)
        .collect();
    let joined = content.join("\n");
    let visible = strip_html_comments(&joined);
    let mut first_placeholder = None;
    for line in visible.lines() {
        match judge_line(line) {
            LineContent::Text => return BodyJudgement::Written,
            LineContent::Placeholder(text) => {
                first_placeholder.get_or_insert(text);
            }
            LineContent::Nothing => {}
        }
    }
    match first_placeholder {
        Some(text) => BodyJudgement::Placeholder(text),
        None if visible.len() < joined.len() => BodyJudgement::CommentOnly,
        None => BodyJudgement::Empty,
    }
}

/// Removes `<!-- … -->` comments, across lines; an unclosed one hides the rest, as it does
/// when GitHub renders the description.
fn strip_html_comments(text: &str) -> String {
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

enum LineContent {
    Text,
    Placeholder(String),
    /// Blank, or only markup: an empty bullet, a checkbox, a rule, punctuation.
    Nothing,
}

const PLACEHOLDERS: [&str; 8] = ["tbd", "todo", "n/a", "na", "-", "none", "…", "..."];

fn is_placeholder(text: &str) -> bool {
    PLACEHOLDERS.contains(&text.to_lowercase().as_str())
}

fn judge_line(line: &str) -> LineContent {
    let without_tags = strip_html_tags(line);
    let core = strip_emphasis(strip_list_markers(&without_tags));
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

/// Drops inline HTML tags such as `<br>` or `<details>`, which carry no words.
fn strip_html_tags(line: &str) -> String {
    let mut kept = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('<') {
        kept.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
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

/// Strips leading blockquote markers, list bullets (`-`, `*`, `+`, `1.`, `1)`) and task
/// checkboxes, however deeply nested.
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

// ---- Line classification: the block structure that decides what is a heading ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum LineKind {
    Blank,
    /// Ordinary content, including lines inside HTML comments and other blocks.
    Text,
    /// The first line of a heading (ATX, or the text of a Setext heading).
    Heading {
        level: u8,
        text: String,
    },
    /// Further lines of a Setext heading, and its underline.
    HeadingPart,
    /// An opening or closing code fence.
    FenceMarker,
    /// A line inside a code fence: content, never a heading.
    Code,
    FrontMatter,
}

/// The block that the previous line left open, which decides what an underline means.
#[derive(Clone, Copy)]
enum OpenBlock {
    None,
    /// A paragraph starting at this line: an underline below it makes a Setext heading.
    Paragraph(usize),
    /// A list item, blockquote, HTML block or indented code: an underline is not a heading.
    Other,
}

struct Fence {
    marker: char,
    length: usize,
}

fn classify_lines(lines: &[&str], allow_front_matter: bool) -> Vec<LineKind> {
    let mut kinds = vec![LineKind::Text; lines.len()];
    let mut start = 0;
    if allow_front_matter {
        if let Some(end) = front_matter_end(lines) {
            kinds[..=end].fill(LineKind::FrontMatter);
            start = end + 1;
        }
    }
    let mut fence: Option<Fence> = None;
    let mut in_comment = false;
    let mut open = OpenBlock::None;
    for i in start..lines.len() {
        let line = lines[i];
        if let Some(current) = &fence {
            kinds[i] = if closes_fence(line, current) {
                fence = None;
                LineKind::FenceMarker
            } else {
                LineKind::Code
            };
            continue;
        }
        if in_comment {
            in_comment = comment_open_after(line, true);
            kinds[i] = LineKind::Text;
            open = OpenBlock::Other;
            continue;
        }
        if line.trim().is_empty() {
            kinds[i] = LineKind::Blank;
            open = OpenBlock::None;
        } else if let Some(opened) = opens_fence(line) {
            kinds[i] = LineKind::FenceMarker;
            fence = Some(opened);
            open = OpenBlock::None;
        } else if let Some((level, text)) = atx_heading(line) {
            kinds[i] = LineKind::Heading { level, text };
            open = OpenBlock::None;
        } else if let (Some(level), OpenBlock::Paragraph(first)) = (setext_underline(line), open) {
            let text: Vec<&str> = lines[first..i].iter().map(|line| line.trim()).collect();
            kinds[first] = LineKind::Heading {
                level,
                text: text.join(" "),
            };
            kinds[first + 1..=i].fill(LineKind::HeadingPart);
            open = OpenBlock::None;
        } else {
            kinds[i] = LineKind::Text;
            open = next_open_block(line, i, open);
        }
        if kinds[i] != LineKind::FenceMarker {
            in_comment = comment_open_after(line, false);
        }
    }
    kinds
}

fn next_open_block(line: &str, index: usize, open: OpenBlock) -> OpenBlock {
    if is_thematic_break(line) {
        return OpenBlock::None;
    }
    match open {
        OpenBlock::None if starts_other_block(line) => OpenBlock::Other,
        OpenBlock::None => OpenBlock::Paragraph(index),
        OpenBlock::Paragraph(_) if interrupts_paragraph(line) => OpenBlock::Other,
        // Any other line continues the open block (a lazy continuation).
        continuing => continuing,
    }
}

/// Lines that open something other than a paragraph, under which `---` or `===` is not a
/// Setext underline.
fn starts_other_block(line: &str) -> bool {
    let text = line.trim_start();
    indentation(line) >= 4
        || interrupts_paragraph(line)
        || text.starts_with('<')
        || text.starts_with('|')
}

/// A list item, blockquote or HTML comment ends a paragraph even without a blank line.
fn interrupts_paragraph(line: &str) -> bool {
    let text = line.trim_start();
    indentation(line) <= 3
        && (text.starts_with("<!--") || strip_one_marker(text).len() != text.len())
}

/// Columns of leading whitespace, a tab counting to the next multiple of 4.
fn indentation(line: &str) -> usize {
    let mut columns = 0;
    for c in line.chars() {
        match c {
            ' ' => columns += 1,
            '\t' => columns += 4 - columns % 4,
            _ => break,
        }
    }
    columns
}

/// `# Title`, up to `###### Title`, indented at most 3 columns; an optional closing run of
/// `#` is not part of the text.
fn atx_heading(line: &str) -> Option<(u8, String)> {
    if indentation(line) > 3 {
        return None;
    }
    let text = line.trim_start();
    let hashes = text.len() - text.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &text[hashes..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    let without_closing = rest.trim_end_matches('#');
    let title = if without_closing.is_empty() {
        ""
    } else if without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        rest
    };
    Some((hashes as u8, title.to_string()))
}

/// `===` (level 1) or `---` (level 2), indented at most 3 columns, nothing else on the line.
fn setext_underline(line: &str) -> Option<u8> {
    if indentation(line) > 3 {
        return None;
    }
    let text = line.trim();
    if !text.is_empty() && text.chars().all(|c| c == '=') {
        Some(1)
    } else if !text.is_empty() && text.chars().all(|c| c == '-') {
        Some(2)
    } else {
        None
    }
}

/// `***`, `---` or `___` (three or more, spaces allowed between them).
fn is_thematic_break(line: &str) -> bool {
    if indentation(line) > 3 {
        return false;
    }
    let marks: Vec<char> = line.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3 && matches!(marks[0], '*' | '-' | '_') && marks.iter().all(|&c| c == marks[0])
}

fn opens_fence(line: &str) -> Option<Fence> {
    if indentation(line) > 3 {
        return None;
    }
    let text = line.trim_start();
    let marker = text.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let length = text.len() - text.trim_start_matches(marker).len();
    let info = &text[length..];
    // A backtick fence's info string cannot hold backticks (that is inline code).
    let valid = length >= 3 && !(marker == '`' && info.contains('`'));
    valid.then_some(Fence { marker, length })
}

fn closes_fence(line: &str, fence: &Fence) -> bool {
    if indentation(line) > 3 {
        return false;
    }
    let text = line.trim();
    let length = text.len() - text.trim_start_matches(fence.marker).len();
    length >= fence.length && length == text.len()
}

/// Whether an HTML comment is still open at the end of `line`.
fn comment_open_after(line: &str, mut in_comment: bool) -> bool {
    let mut rest = line;
    loop {
        let token = if in_comment { "-->" } else { "<!--" };
        match rest.find(token) {
            Some(at) => {
                rest = &rest[at + token.len()..];
                in_comment = !in_comment;
            }
            None => return in_comment,
        }
    }
}

/// The last line of YAML front matter opening the document (`---` … `---` or `...`).
fn front_matter_end(lines: &[&str]) -> Option<usize> {
    if lines.first().map(|line| line.trim_end()) != Some("---") {
        return None;
    }
    (1..lines.len()).find(|&i| matches!(lines[i].trim_end(), "---" | "..."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    fn required() -> Vec<String> {
        names(&["impact", "rollback"])
    }

    fn pr(markdown: &str) -> Document<'_> {
        Document {
            source: "PR description",
            markdown,
        }
    }

    fn check_pr(markdown: &str) -> Vec<ArtifactStatus> {
        check(&required(), &[pr(markdown)], &Headings::default())
    }

    fn headings_of(markdown: &str) -> Vec<(String, u8)> {
        sections(markdown)
            .into_iter()
            .map(|section| (section.heading, section.level))
            .collect()
    }

    fn body_of(markdown: &str, heading: &str) -> String {
        sections(markdown)
            .into_iter()
            .find(|section| section.heading == heading)
            .map(|section| section.body)
            .unwrap_or_else(|| panic!("no section {heading:?} in {markdown:?}"))
    }

    // ---- placeholders and empty bodies ----

    #[test]
    fn every_placeholder_form_is_missing() {
        let bodies = [
            "TBD",
            "tbd",
            "TODO",
            "todo",
            "N/A",
            "n/a",
            "NA",
            "na",
            "-",
            "none",
            "None",
            "NONE",
            "…",
            "...",
            "TBD.",
            "(TBD)",
            "**TBD**",
            "_TODO_",
            "`N/A`",
            "- TBD",
            "* TODO",
            "+ N/A",
            "1. TBD",
            "2) none",
            "- [ ] TBD",
            "- [x] TODO",
            "[ ] n/a",
            "> TBD",
            "- -",
            "TBD!",
            "\"none\"",
            "~~TBD~~",
            "  TBD  ",
        ];
        for body in bodies {
            assert!(!is_substantive(body), "{body:?} should be a placeholder");
            assert!(
                matches!(judge_body(body), BodyJudgement::Placeholder(_)),
                "{body:?} judged {:?}",
                judge_body(body)
            );
        }
    }

    #[test]
    fn placeholders_repeated_per_line_are_missing() {
        assert!(!is_substantive("TBD\nTODO\n- n/a\n\n..."));
        assert!(!is_substantive("- [ ] TBD\n- [ ] TBD"));
        assert_eq!(
            judge_body("- [ ]\n- TBD\n- none"),
            BodyJudgement::Placeholder("TBD".to_string())
        );
    }

    #[test]
    fn placeholder_reported_as_written_by_the_author() {
        assert_eq!(
            judge_body("**N/A**"),
            BodyJudgement::Placeholder("N/A".to_string())
        );
        assert_eq!(
            judge_body("tbd."),
            BodyJudgement::Placeholder("tbd".to_string())
        );
        assert_eq!(judge_body("…"), BodyJudgement::Placeholder("…".to_string()));
    }

    #[test]
    fn placeholder_words_inside_real_text_count_as_written() {
        assert!(is_substantive(
            "None of the users notice: the answer only gets shorter."
        ));
        assert!(is_substantive(
            "TBD after the A/B test, but at worst 2% more refusals."
        ));
        assert!(is_substantive("- Revert PR #123"));
        assert!(is_substantive("NA customers only"));
        assert!(is_substantive("x"));
    }

    #[test]
    fn empty_and_structure_only_bodies_are_missing() {
        for body in [
            "", "   ", "\n\n", "- [ ]", "-\n*\n+", "---", "***", "<br>", "1.", ":",
        ] {
            assert!(!is_substantive(body), "{body:?}");
        }
        assert_eq!(judge_body(""), BodyJudgement::Empty);
        assert_eq!(judge_body("- [ ]\n- [ ]"), BodyJudgement::Empty);
    }

    #[test]
    fn comment_only_bodies_are_missing() {
        let bodies = [
            "<!-- describe the impact -->",
            "<!--\nDescribe who notices the change\nand how.\n-->",
            "<!-- one --> <!-- two -->\n\n<!-- three -->",
            "- [ ] <!-- fill in -->",
            "<!-- never closed\nstill hidden",
        ];
        for body in bodies {
            assert!(!is_substantive(body), "{body:?}");
            assert_eq!(judge_body(body), BodyJudgement::CommentOnly, "{body:?}");
        }
    }

    #[test]
    fn text_outside_a_comment_counts() {
        assert!(is_substantive(
            "<!-- describe -->\nShorter answers for billing questions."
        ));
        assert!(is_substantive("Shorter answers <!-- hint --> for billing."));
        assert!(is_substantive("<!--\nhint\n-->\nRevert the prompt file."));
    }

    #[test]
    fn comment_with_placeholder_reports_the_placeholder() {
        assert_eq!(
            judge_body("<!-- describe -->\nTBD"),
            BodyJudgement::Placeholder("TBD".to_string())
        );
    }

    #[test]
    fn subheadings_alone_do_not_make_a_body_written() {
        assert!(!is_substantive("### Steps\n\n### Owner\nTBD"));
        assert!(is_substantive("### Steps\n1. Revert the commit"));
    }

    #[test]
    fn code_blocks_count_as_written_unless_empty_or_placeholder() {
        assert!(is_substantive("```sh\ngit revert abc123\n```"));
        assert!(is_substantive("```\n# revert\n```"));
        assert!(!is_substantive("```\n```"));
        assert!(!is_substantive("```\nTBD\n```"));
    }

    // ---- sections ----

    #[test]
    fn atx_headings_at_every_level() {
        let markdown = "# One\n## Two\n### Three\n#### Four\n##### Five\n###### Six\n####### Seven";
        assert_eq!(
            headings_of(markdown),
            vec![
                ("One".to_string(), 1),
                ("Two".to_string(), 2),
                ("Three".to_string(), 3),
                ("Four".to_string(), 4),
                ("Five".to_string(), 5),
                ("Six".to_string(), 6),
            ]
        );
    }

    #[test]
    fn atx_heading_details() {
        assert_eq!(
            headings_of("## Rollback ##"),
            vec![("Rollback".to_string(), 2)]
        );
        assert_eq!(
            headings_of("   ## Rollback"),
            vec![("Rollback".to_string(), 2)]
        );
        assert_eq!(headings_of("## C#"), vec![("C#".to_string(), 2)]);
        assert_eq!(headings_of("##"), vec![(String::new(), 2)]);
        // Not headings: no space after the hashes, or indented as code.
        assert!(headings_of("#hashtag\n##Rollback").is_empty());
        assert!(headings_of("    ## Rollback").is_empty());
        assert!(headings_of("\t## Rollback").is_empty());
    }

    #[test]
    fn body_runs_to_the_next_heading_of_the_same_level() {
        let markdown = "## Impact\nUsers see shorter answers.\n\n## Rollback\nRevert.";
        assert_eq!(body_of(markdown, "Impact"), "Users see shorter answers.");
        assert_eq!(body_of(markdown, "Rollback"), "Revert.");
    }

    #[test]
    fn body_ends_at_a_higher_level_heading() {
        let markdown = "### Impact\nShorter.\n# Appendix\nMore.";
        assert_eq!(body_of(markdown, "Impact"), "Shorter.");
    }

    #[test]
    fn nested_subheadings_stay_in_the_body() {
        let markdown =
            "## Rollback plan\n### Steps\n1. Revert\n#### Owner\nAlice\n## Testing\nDone.";
        assert_eq!(
            body_of(markdown, "Rollback plan"),
            "### Steps\n1. Revert\n#### Owner\nAlice"
        );
        assert_eq!(body_of(markdown, "Steps"), "1. Revert\n#### Owner\nAlice");
        assert_eq!(body_of(markdown, "Owner"), "Alice");
    }

    #[test]
    fn setext_headings() {
        let markdown = "Impact\n======\nUsers see X.\n\nRollback plan\n---\nRevert.\n";
        assert_eq!(
            headings_of(markdown),
            vec![("Impact".to_string(), 1), ("Rollback plan".to_string(), 2)]
        );
        // The level-2 heading is inside the level-1 section.
        assert_eq!(
            body_of(markdown, "Impact"),
            "Users see X.\n\nRollback plan\n---\nRevert."
        );
        assert_eq!(body_of(markdown, "Rollback plan"), "Revert.");
    }

    #[test]
    fn setext_heading_joins_its_paragraph_lines() {
        assert_eq!(
            headings_of("Expected user\nimpact\n---\nShorter."),
            vec![("Expected user impact".to_string(), 2)]
        );
    }

    #[test]
    fn rules_are_not_setext_underlines() {
        // After a blank line, a list item, a comment or at the top, `---` is a rule.
        assert!(headings_of("Text\n\n---\nMore").is_empty());
        assert!(headings_of("- item\n---").is_empty());
        assert!(headings_of("- item\ncontinued\n---").is_empty());
        assert!(headings_of("<!-- hint -->\n---").is_empty());
        assert!(headings_of("> quoted\n---").is_empty());
        assert!(headings_of("| a | b |\n---").is_empty());
        assert!(headings_of("Text\n- - -").is_empty());
        assert!(headings_of("Text\n- item\n---").is_empty());
        assert!(headings_of("Text\n> quote\n---").is_empty());
        assert!(headings_of("## Rollback\n---\nRevert") == vec![("Rollback".to_string(), 2)]);
    }

    #[test]
    fn front_matter_is_not_a_setext_heading() {
        let markdown = "---\ntitle: Rollback\nowner: alice\n---\n## Rollback\nRevert.";
        assert_eq!(headings_of(markdown), vec![("Rollback".to_string(), 2)]);
        // A body that starts with a rule is not front matter.
        assert!(is_substantive("---\nRevert the prompt.\n\n---\nDone."));
    }

    #[test]
    fn headings_inside_code_fences_are_ignored() {
        let markdown = "## Rollback\n```sh\n# Rollback\ngit revert HEAD\n```\n~~~~\n## Impact\n~~~\n~~~~\nafter";
        assert_eq!(headings_of(markdown), vec![("Rollback".to_string(), 2)]);
        assert_eq!(
            body_of(markdown, "Rollback"),
            "```sh\n# Rollback\ngit revert HEAD\n```\n~~~~\n## Impact\n~~~\n~~~~\nafter"
        );
    }

    #[test]
    fn unclosed_fence_runs_to_the_end() {
        assert!(headings_of("```\n# Impact\n## Rollback").is_empty());
    }

    #[test]
    fn inline_code_is_not_a_fence() {
        assert_eq!(
            headings_of("``` `x` ```\n## Impact\nShorter."),
            vec![("Impact".to_string(), 2)]
        );
    }

    #[test]
    fn comments_after_a_heading_do_not_change_its_name() {
        let statuses = check_pr("## Impact <!-- required -->\nShorter.\n## Rollback plan\nRevert.");
        assert!(statuses[0].found);
        let statuses = check_pr("## Rollback plan <!-- required -->\nTBD");
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("section \"Rollback plan\" in PR description is only a placeholder (TBD)")
        );
        assert_eq!(
            headings_of("## Impact <!-- not\n## Rollback\n-->\n## Rollback plan"),
            vec![
                ("Impact <!-- not".to_string(), 2),
                ("Rollback plan".to_string(), 2)
            ]
        );
    }

    #[test]
    fn headings_inside_html_comments_are_ignored() {
        let markdown = "<!--\n## Rollback plan\nTBD\n-->\n## Impact\nShorter.";
        assert_eq!(headings_of(markdown), vec![("Impact".to_string(), 2)]);
    }

    #[test]
    fn crlf_input() {
        let markdown = "## Impact\r\nShorter answers.\r\n\r\nRollback\r\n---\r\nRevert.\r\n";
        assert_eq!(
            headings_of(markdown),
            vec![("Impact".to_string(), 2), ("Rollback".to_string(), 2)]
        );
        assert_eq!(body_of(markdown, "Impact"), "Shorter answers.");
        assert_eq!(body_of(markdown, "Rollback"), "Revert.");
        let statuses = check_pr("## Impact\r\nTBD\r\n## Rollback\r\n<!-- x -->\r\n");
        assert!(statuses.iter().all(|status| !status.found));
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(
            headings_of("\u{feff}# Impact"),
            vec![("Impact".to_string(), 1)]
        );
    }

    // ---- heading names ----

    #[test]
    fn heading_names_ignore_case_emphasis_and_trailing_colon() {
        for heading in [
            "## Rollback plan",
            "## ROLLBACK PLAN",
            "##   rollback   plan  ",
            "## **Rollback plan:**",
            "## Rollback plan:",
            "## __Rollback__ plan",
            "## *Rollback*",
            "## `Rollback`",
        ] {
            let markdown = format!("{heading}\nRevert the prompt to v3.");
            let statuses = check(
                &names(&["rollback"]),
                &[pr(&markdown)],
                &Headings::default(),
            );
            assert!(statuses[0].found, "{heading:?}");
        }
    }

    #[test]
    fn heading_names_must_match_whole() {
        let statuses = check_pr("## Impact analysis\nA lot.\n## Rollback plans we rejected\nX");
        assert!(statuses.iter().all(|status| !status.found));
    }

    #[test]
    fn every_default_impact_heading_is_accepted() {
        for heading in ["Expected user impact", "User impact", "Impact"] {
            let markdown = format!("### {heading}\nAnswers get shorter.");
            let statuses = check(&names(&["impact"]), &[pr(&markdown)], &Headings::default());
            assert!(statuses[0].found, "{heading}");
        }
    }

    #[test]
    fn custom_heading_names() {
        let headings = Headings {
            by_artifact: vec![("rollback".to_string(), names(&["Undo"]))],
        };
        let markdown = "## Undo\nRevert.\n## Rollback\nRevert.";
        let statuses = check(&names(&["rollback"]), &[pr(markdown)], &headings);
        assert!(statuses[0].found);
        let statuses = check(
            &names(&["rollback"]),
            &[pr("## Rollback\nRevert.")],
            &headings,
        );
        assert!(!statuses[0].found);
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("no \"Undo\" section in the PR description or in a .promptgate/changes/*.md record of this change")
        );
    }

    #[test]
    fn unknown_artifact_is_headed_by_its_own_name() {
        let headings = Headings::default();
        assert_eq!(
            headings.names_for("security review"),
            names(&["security review"])
        );
        assert_eq!(
            headings.names_for("Rollback"),
            names(&["Rollback plan", "Rollback"])
        );
        let statuses = check(
            &names(&["security review"]),
            &[pr("## Security review\nReviewed by the security team.")],
            &headings,
        );
        assert_eq!(statuses[0].name, "security review");
        assert!(statuses[0].found);
        let empty_names = Headings {
            by_artifact: vec![("security review".to_string(), Vec::new())],
        };
        assert_eq!(
            empty_names.names_for("security review"),
            names(&["security review"])
        );
    }

    // ---- check ----

    #[test]
    fn unfilled_pr_template_misses_both_with_reasons() {
        let template = "## Summary\nTweak tone.\n\n## Expected user impact\n<!-- describe -->\n\n## Rollback plan\nTBD\n";
        assert_eq!(
            check_pr(template),
            vec![
                ArtifactStatus {
                    name: "impact".to_string(),
                    found: false,
                    source: None,
                    reason: Some(
                        "section \"Expected user impact\" in PR description holds only an HTML comment, which is hidden and does not count".to_string()
                    ),
                },
                ArtifactStatus {
                    name: "rollback".to_string(),
                    found: false,
                    source: None,
                    reason: Some(
                        "section \"Rollback plan\" in PR description is only a placeholder (TBD)"
                            .to_string()
                    ),
                },
            ]
        );
    }

    #[test]
    fn filled_pr_template_finds_both() {
        let description = "\
## Summary
Make the support answer shorter and cite the help-center article.

## Expected user impact
<!-- Who notices, and how? -->
Support answers drop from ~180 to ~110 words; citation accuracy should rise (eval: 0.93 → 0.97).
Customers on the legacy plan may see a link they cannot open.

## Rollback plan
<!-- How do we undo this? -->
1. Revert this PR (prompt-only change, no migration).
2. Redeploy `support-answer`; the cache keys on the prompt hash, so nothing is stale.

## Checklist
- [x] Evals pass
";
        let statuses = check_pr(description);
        for status in &statuses {
            assert!(status.found, "{status:?}");
            assert_eq!(status.source.as_deref(), Some("PR description"));
            assert_eq!(status.reason, None);
        }
        assert_eq!(statuses[0].name, "impact");
        assert_eq!(statuses[1].name, "rollback");
    }

    #[test]
    fn empty_section_reason() {
        let statuses = check_pr("## Impact\n\n## Rollback\n");
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("section \"Impact\" in PR description is empty")
        );
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("section \"Rollback\" in PR description is empty")
        );
    }

    #[test]
    fn no_section_reason_lists_every_heading_name() {
        let statuses = check_pr("Just a description.");
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("no \"Expected user impact\" / \"User impact\" / \"Impact\" section in the PR description or in a .promptgate/changes/*.md record of this change")
        );
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("no \"Rollback plan\" / \"Rollback\" section in the PR description or in a .promptgate/changes/*.md record of this change")
        );
        assert!(statuses.iter().all(|status| status.source.is_none()));
    }

    #[test]
    fn no_documents_means_no_section() {
        let statuses = check(&required(), &[], &Headings::default());
        assert_eq!(statuses.len(), 2);
        assert!(statuses.iter().all(|status| !status.found));
        assert!(statuses[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("no ")));
    }

    #[test]
    fn first_document_with_a_written_section_wins() {
        let documents = [
            pr("## Rollback plan\nTBD"),
            Document {
                source: ".promptgate/changes/shorter-answers.md",
                markdown: "# Shorter answers\n## Rollback\nRevert the prompt.\n## Impact\nShorter.",
            },
            Document {
                source: ".promptgate/changes/other.md",
                markdown: "## Rollback\nAlso written.\n## Impact\nAlso.",
            },
        ];
        let statuses = check(&required(), &documents, &Headings::default());
        for status in &statuses {
            assert!(status.found);
            assert_eq!(
                status.source.as_deref(),
                Some(".promptgate/changes/shorter-answers.md")
            );
        }
        let reordered = [documents[2], documents[1]];
        let statuses = check(&required(), &reordered, &Headings::default());
        assert_eq!(
            statuses[0].source.as_deref(),
            Some(".promptgate/changes/other.md")
        );
    }

    #[test]
    fn a_written_duplicate_section_beats_an_unwritten_one_in_the_same_document() {
        let statuses = check_pr("## Rollback\nTBD\n## Rollback plan\nRevert.\n## Impact\nX.");
        assert!(statuses[1].found);
    }

    #[test]
    fn a_placeholder_anywhere_beats_no_section() {
        let documents = [
            pr("Nothing here."),
            Document {
                source: ".promptgate/changes/a.md",
                markdown: "## Rollback\nN/A\n## Impact\n<!-- later -->",
            },
        ];
        let statuses = check(&required(), &documents, &Headings::default());
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("section \"Impact\" in .promptgate/changes/a.md holds only an HTML comment, which is hidden and does not count")
        );
        assert_eq!(
            statuses[1].reason.as_deref(),
            Some("section \"Rollback\" in .promptgate/changes/a.md is only a placeholder (N/A)")
        );
    }

    #[test]
    fn the_first_unwritten_section_gives_the_reason() {
        let documents = [
            pr("## Rollback\n-"),
            Document {
                source: ".promptgate/changes/a.md",
                markdown: "## Rollback\nTODO",
            },
        ];
        let statuses = check(&names(&["rollback"]), &documents, &Headings::default());
        assert_eq!(
            statuses[0].reason.as_deref(),
            Some("section \"Rollback\" in PR description is only a placeholder (-)")
        );
    }

    #[test]
    fn written_subsection_under_a_placeholder_parent_counts() {
        let statuses =
            check_pr("## Impact\nTBD\n### User impact\nShorter answers.\n## Rollback\nRevert.");
        assert!(statuses[0].found);
    }

    #[test]
    fn rollback_commands_in_a_fence_count_as_written() {
        let statuses = check_pr("## Impact\nShorter.\n## Rollback plan\n```sh\n# revert the prompt\ngit revert abc123\n```\n");
        assert!(statuses[1].found);
    }

    #[test]
    fn statuses_follow_the_required_order_and_repeat_names() {
        let statuses = check(
            &names(&["rollback", "impact", "rollback"]),
            &[pr("## Impact\nX\n## Rollback\nY")],
            &Headings::default(),
        );
        let order: Vec<&str> = statuses.iter().map(|status| status.name.as_str()).collect();
        assert_eq!(order, vec!["rollback", "impact", "rollback"]);
    }

    #[test]
    fn serializes_without_empty_fields() {
        let found = serde_json::to_value(found_in("impact", "PR description")).unwrap();
        assert_eq!(
            found,
            serde_json::json!({"name": "impact", "found": true, "source": "PR description"})
        );
        let statuses = check_pr("");
        let missing = &statuses[1];
        let json = serde_json::to_value(missing).unwrap();
        assert_eq!(json["found"], serde_json::json!(false));
        assert!(json.get("source").is_none());
        let back: ArtifactStatus = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, missing);
        assert!(json["reason"]
            .as_str()
            .is_some_and(|r| r.contains("\"Rollback plan\"")));
    }
}
