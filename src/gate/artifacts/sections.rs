//! The Markdown reading behind the artifact check: the sections of a document as CommonMark
//! (with GitHub's tables, task lists, strikethrough and footnotes) and GitHub read it — a
//! heading inside an HTML block such as `<details>` is raw HTML, one in a block quote or a
//! list item is a heading — cut from the source by `pulldown-cmark`'s offsets so a section
//! shows the author's own text; and the judgement of whether a section body is real text or
//! an unfilled template (empty, a comment, a placeholder, invisible characters, a link
//! reference definition).

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// A heading and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading's text as shown: inline markup, HTML and closing `#`s removed, entities
    /// decoded, Setext lines joined with a space.
    pub heading: String,
    /// 1–6 for ATX headings, 1 (`===`) or 2 (`---`) for Setext headings.
    pub level: u8,
    /// The source lines up to the next heading of the same or a higher level in the same
    /// container (the document, a block quote, a list item), or to the end of that container;
    /// subsections included, surrounding blank lines trimmed. Lines keep their block quote
    /// markers and indentation: this is the author's text.
    pub body: String,
}

/// A document's sections, and the lines inside HTML blocks that look like headings but are
/// raw HTML (so the check can say why such a "section" does not count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    pub sections: Vec<Section>,
    /// `(the line as written, its heading text)`, e.g. `("## Rollback plan", "Rollback plan")`.
    pub html_headings: Vec<(String, String)>,
}

/// GitHub's Markdown, as far as it decides what is a heading and what is text.
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
}

/// The sections of a Markdown document, in order, nested ones included.
pub fn sections(markdown: &str) -> Vec<Section> {
    outline(markdown).sections
}

/// A section being read: where its body starts, the container it belongs to.
struct Open {
    index: usize,
    level: u8,
    container: usize,
    body_start: usize,
}

/// The sections of a Markdown document (YAML front matter at its top is skipped) and the
/// heading-like lines hidden in its HTML blocks.
pub fn outline(markdown: &str) -> Outline {
    let text = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let parser = Parser::new_ext(text, options() | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);
    let mut outline = Outline::default();
    let mut bodies: Vec<Range<usize>> = Vec::new();
    // Containers that can hold headings, innermost last: (id, where it ends). 0 is the document.
    let mut containers: Vec<(usize, usize)> = vec![(0, text.len())];
    let mut next_container = 1;
    let mut open: Vec<Open> = Vec::new();
    let mut heading: Option<(u8, String)> = None;
    for (event, range) in parser.into_offset_iter() {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::Item | Tag::FootnoteDefinition(_)) => {
                containers.push((next_container, range.end));
                next_container += 1;
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::Item | TagEnd::FootnoteDefinition) => {
                if let Some((id, end)) = containers.pop() {
                    close(&mut open, &mut bodies, end, |o| o.container == id);
                }
            }
            Event::Start(Tag::Heading { level, .. }) => {
                let level = level as u8;
                let container = containers.last().map_or(0, |(id, _)| *id);
                let line_start = text[..range.start].rfind('\n').map_or(0, |at| at + 1);
                close(&mut open, &mut bodies, line_start, |o| {
                    o.container == container && o.level >= level
                });
                heading = Some((level, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, words)) = heading.take() {
                    let container = containers.last().map_or(0, |(id, _)| *id);
                    open.push(Open {
                        index: outline.sections.len(),
                        level,
                        container,
                        body_start: range.end,
                    });
                    outline.sections.push(Section {
                        heading: words.trim().to_string(),
                        level,
                        body: String::new(),
                    });
                    bodies.push(range.end..range.end);
                }
            }
            Event::Text(words) | Event::Code(words) => {
                if let Some((_, heading)) = &mut heading {
                    heading.push_str(&words);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, heading)) = &mut heading {
                    heading.push(' ');
                }
            }
            Event::Html(line) => {
                if let Some(found) = heading_like(&line) {
                    outline.html_headings.push(found);
                }
            }
            _ => {}
        }
    }
    close(&mut open, &mut bodies, text.len(), |_| true);
    for (section, body) in outline.sections.iter_mut().zip(bodies) {
        section.body = trim_blank_lines(&text[body]);
    }
    outline
}

/// Ends the open sections that `ends` picks at `at`.
fn close(
    open: &mut Vec<Open>,
    bodies: &mut [Range<usize>],
    at: usize,
    ends: impl Fn(&Open) -> bool,
) {
    open.retain(|section| {
        if !ends(section) {
            return true;
        }
        bodies[section.index] = section.body_start..at.max(section.body_start);
        false
    });
}

/// A line of an HTML block that would be an ATX heading outside it.
fn heading_like(line: &str) -> Option<(String, String)> {
    let written = line.trim();
    let hashes = written.len() - written.trim_start_matches('#').len();
    let rest = &written[hashes..];
    if !(1..=6).contains(&hashes) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim();
    Some((written.to_string(), text.to_string()))
}

/// The lines of `text` without the blank ones (or ones holding only block quote markers)
/// before and after; line endings become `\n`.
fn trim_blank_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let is_blank = |line: &&str| line.chars().all(|c| c == '>' || c.is_whitespace());
    let first = lines.iter().position(|line| !is_blank(line));
    let last = lines.iter().rposition(|line| !is_blank(line));
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

// ---- Judging a body: written, or an unfilled template ----

/// Whether a section body counts as written (not empty, comment-only or placeholder).
pub fn is_substantive(body: &str) -> bool {
    judge_body(body) == BodyJudgement::Written
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyJudgement {
    Written,
    /// Nothing but blank lines or bare structure (empty bullets, checkboxes, subheadings).
    Empty,
    /// Nothing visible but spaces and invisible characters (`&nbsp;`, a zero-width space).
    Invisible,
    /// Nothing but HTML comments (and bare structure).
    CommentOnly,
    /// Nothing but link reference definitions, which are never shown.
    DefinitionOnly,
    /// Nothing but placeholders such as TBD; holds the first one as written.
    Placeholder(String),
}

/// Judges a section body by what a reader of the rendered Markdown sees in it.
pub fn judge_body(body: &str) -> BodyJudgement {
    let mut seen = Seen::default();
    collect_visible(body, true, &mut seen);
    let mut first_placeholder = None;
    for line in &seen.lines {
        let shown: String = line
            .chars()
            .map(|c| if is_invisible(c) { ' ' } else { c })
            .collect();
        match judge_line(&shown) {
            LineContent::Text => return BodyJudgement::Written,
            LineContent::Placeholder(text) => {
                first_placeholder.get_or_insert(text);
            }
            LineContent::Nothing => {}
        }
    }
    if seen.media {
        return BodyJudgement::Written;
    }
    match first_placeholder {
        Some(text) => BodyJudgement::Placeholder(text),
        None if seen.comment => BodyJudgement::CommentOnly,
        None if seen.definition => BodyJudgement::DefinitionOnly,
        None if seen.invisible => BodyJudgement::Invisible,
        None => BodyJudgement::Empty,
    }
}

/// What a body shows: its lines of text, and what else it held.
#[derive(Default)]
struct Seen {
    lines: Vec<String>,
    current: String,
    comment: bool,
    definition: bool,
    invisible: bool,
    /// An image: something shown even without words.
    media: bool,
}

impl Seen {
    fn push_text(&mut self, text: &str) {
        self.invisible |= text
            .chars()
            .any(|c| is_invisible(c) && !c.is_ascii_whitespace());
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.end_line();
            }
            self.current.push_str(part);
        }
    }

    fn end_line(&mut self) {
        if !self.current.is_empty() {
            self.lines.push(std::mem::take(&mut self.current));
        }
    }
}

/// Collects what `markdown` shows into `seen`. Raw HTML is reduced to its text without
/// comments and tags; at the top level that text is read as Markdown once more, so entities
/// such as `<p>&nbsp;</p>` are decoded (and never deeper, so this always ends).
fn collect_visible(markdown: &str, top: bool, seen: &mut Seen) {
    let parser = Parser::new_ext(markdown, options());
    seen.definition |= parser.reference_definitions().iter().next().is_some();
    let mut html = String::new();
    let mut in_heading = 0usize;
    // Whether an item has shown nothing yet, for a lone `-`, which reads as a placeholder.
    let mut bare_item: Option<Range<usize>> = None;
    for (event, range) in parser.into_offset_iter() {
        if !matches!(event, Event::Html(_) | Event::InlineHtml(_)) && !html.is_empty() {
            flush_html(&std::mem::take(&mut html), top, seen);
        }
        if !matches!(event, Event::End(TagEnd::Item)) {
            bare_item = None;
        }
        match event {
            Event::Start(Tag::Heading { .. }) => in_heading += 1,
            Event::End(TagEnd::Heading(_)) => {
                in_heading = in_heading.saturating_sub(1);
                seen.end_line();
            }
            Event::Start(Tag::Image { .. }) if in_heading == 0 => seen.media = true,
            Event::Start(Tag::Item) => {
                seen.end_line();
                bare_item = Some(range);
            }
            Event::End(TagEnd::Item) => {
                if let Some(item) = bare_item.take() {
                    seen.push_text(markdown[item].trim());
                }
                seen.end_line();
            }
            Event::Text(text) | Event::Code(text) if in_heading == 0 => seen.push_text(&text),
            Event::SoftBreak | Event::HardBreak => seen.end_line(),
            Event::Html(text) | Event::InlineHtml(text) if in_heading == 0 => html.push_str(&text),
            // Blocks end lines; inline markup (emphasis, links) does not.
            Event::End(tag) if !is_inline(tag) => seen.end_line(),
            _ => {}
        }
    }
    if !html.is_empty() {
        flush_html(&html, top, seen);
    }
    seen.end_line();
}

fn is_inline(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

fn flush_html(html: &str, top: bool, seen: &mut Seen) {
    let visible = strip_html_comments(html);
    seen.comment |= visible.len() < html.len();
    let text = strip_html_tags(&visible);
    if top {
        collect_visible(&text, false, seen);
    } else {
        seen.push_text(&text);
        seen.end_line();
    }
}

/// Characters that show nothing: whitespace (`&nbsp;` and the other Unicode spaces), the
/// zero-width and joiner characters, the byte order mark, soft hyphens, direction marks,
/// variation selectors and the blank fillers (Braille blank, Hangul fillers).
pub(crate) fn is_invisible(c: char) -> bool {
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

/// Removes `<!-- … -->` comments, across lines; an unclosed one hides the rest, as it does
/// when GitHub renders the description.
pub(crate) fn strip_html_comments(text: &str) -> String {
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
    let core = strip_emphasis(strip_list_markers(line));
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

/// Drops HTML tags such as `<br>` or `<details>`, which carry no words.
fn strip_html_tags(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut rest = text;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(headings_of("Text\n- - -").is_empty());
        assert!(headings_of("Text\n- item\n---").is_empty());
        assert!(headings_of("Text\n> quote\n---").is_empty());
        assert!(headings_of("## Rollback\n---\nRevert") == vec![("Rollback".to_string(), 2)]);
        // A pipe row over a one-cell delimiter is no table (GFM: the cell counts differ), so
        // `---` underlines it: GitHub shows a heading. (The hand-written parser said no.)
        assert_eq!(
            headings_of("| a | b |\n---"),
            vec![("| a | b |".to_string(), 2)]
        );
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
    fn headings_inside_html_comments_are_ignored() {
        let markdown = "<!--\n## Rollback plan\nTBD\n-->\n## Impact\nShorter.";
        assert_eq!(headings_of(markdown), vec![("Impact".to_string(), 2)]);
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(
            headings_of("\u{feff}# Impact"),
            vec![("Impact".to_string(), 1)]
        );
    }
}
