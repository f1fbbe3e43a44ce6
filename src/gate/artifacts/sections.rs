//! The Markdown reading behind the artifact check, one `pulldown-cmark` pass per document:
//! its sections as CommonMark (with GitHub's tables, task lists, strikethrough and
//! footnotes) and GitHub read them — a heading inside an HTML block such as `<details>` is
//! raw HTML, one in a block quote or a list item is a heading — each body cut from the
//! source by the parser's offsets, so a section shows the author's own text; and, indexed by
//! offset, what the document shows, so whether a section is written or an unfilled template
//! (empty, a comment, a placeholder, invisible characters, a link reference definition) is
//! a lookup in that index, linear in the document however deeply sections nest.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::text::{
    is_invisible, judge_line, shows_image, strip_html_comments, strip_html_tags, LineContent,
};

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

/// What a section body amounts to for a reader of the rendered Markdown.
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

/// The sections of a Markdown document, in order, nested ones included.
pub fn sections(markdown: &str) -> Vec<Section> {
    Outline::read(markdown).sections()
}

/// Whether a section body counts as written (not empty, comment-only or placeholder).
pub fn is_substantive(body: &str) -> bool {
    judge_body(body) == BodyJudgement::Written
}

/// Judges a section body given on its own.
pub fn judge_body(body: &str) -> BodyJudgement {
    let outline = read(body, false);
    outline.shown.judge(0..outline.text.len())
}

/// A document read once: its headings, where each one's body lies, what it shows where, and
/// the lines of its HTML blocks that look like headings but are raw HTML.
pub struct Outline<'a> {
    text: &'a str,
    headings: Vec<Heading>,
    shown: Shown,
    html_headings: Vec<(String, String)>,
}

struct Heading {
    text: String,
    level: u8,
    body: Range<usize>,
}

impl<'a> Outline<'a> {
    /// Reads a document (a byte order mark and YAML front matter at its top are skipped).
    pub fn read(markdown: &'a str) -> Outline<'a> {
        read(markdown, true)
    }

    /// Each heading's index and text as shown, in document order.
    pub fn headings(&self) -> impl Iterator<Item = (usize, &str)> {
        self.headings
            .iter()
            .enumerate()
            .map(|(index, heading)| (index, heading.text.as_str()))
    }

    /// The section under heading `index`.
    pub fn section(&self, index: usize) -> Section {
        let heading = &self.headings[index];
        Section {
            heading: heading.text.clone(),
            level: heading.level,
            body: trim_blank_lines(&self.text[heading.body.clone()]),
        }
    }

    pub fn sections(&self) -> Vec<Section> {
        (0..self.headings.len())
            .map(|index| self.section(index))
            .collect()
    }

    /// Whether the section under heading `index` is written, and if not, what it holds.
    pub fn judge(&self, index: usize) -> BodyJudgement {
        self.shown.judge(self.headings[index].body.clone())
    }

    /// `(the line as written, its heading text)` for each line inside an HTML block that
    /// would be an ATX heading outside it, e.g. `("## Rollback plan", "Rollback plan")`.
    pub fn html_headings(&self) -> &[(String, String)] {
        &self.html_headings
    }
}

/// GitHub's Markdown, as far as it decides what is a heading and what is text.
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
}

fn read(markdown: &str, front_matter: bool) -> Outline<'_> {
    let text = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let mut options = options();
    if front_matter {
        options |= Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    }
    let parser = Parser::new_ext(text, options);
    let mut shown = Shown::default();
    for (_, definition) in parser.reference_definitions().iter() {
        shown.definitions.push(definition.span.start);
    }
    let mut structure = Structure::new(text.len());
    let mut reader = Reader::new(text, None);
    for (event, range) in parser.into_offset_iter() {
        structure.event(&event, &range, text);
        reader.event(event, range, &mut shown);
    }
    reader.finish(&mut shown);
    shown.sort();
    let (headings, html_headings) = structure.finish(text.len());
    Outline {
        text,
        headings,
        shown,
        html_headings,
    }
}

// ---- Structure: headings, and where their bodies end ----

/// A section being read: its heading's index, level and container, where its body starts.
struct Open {
    index: usize,
    level: u8,
    container: usize,
    body_start: usize,
}

struct Structure {
    headings: Vec<Heading>,
    html_headings: Vec<(String, String)>,
    /// Containers that can hold headings, innermost last: (id, where it ends). 0 is the
    /// document.
    containers: Vec<(usize, usize)>,
    next_container: usize,
    open: Vec<Open>,
    /// The heading being read: its level and text so far.
    current: Option<(u8, String)>,
}

impl Structure {
    fn new(len: usize) -> Structure {
        Structure {
            headings: Vec::new(),
            html_headings: Vec::new(),
            containers: vec![(0, len)],
            next_container: 1,
            open: Vec::new(),
            current: None,
        }
    }

    fn container(&self) -> usize {
        self.containers.last().map_or(0, |(id, _)| *id)
    }

    fn event(&mut self, event: &Event<'_>, range: &Range<usize>, text: &str) {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::Item | Tag::FootnoteDefinition(_)) => {
                self.containers.push((self.next_container, range.end));
                self.next_container += 1;
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::Item | TagEnd::FootnoteDefinition) => {
                if let Some((id, end)) = self.containers.pop() {
                    self.close(end, |open| open.container == id);
                }
            }
            Event::Start(Tag::Heading { level, .. }) => {
                let level = *level as u8;
                let container = self.container();
                // The body before it ends where its line starts (block quote markers and all).
                let line_start = text[..range.start].rfind('\n').map_or(0, |at| at + 1);
                self.close(line_start, |open| {
                    open.container == container && open.level >= level
                });
                self.current = Some((level, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, words)) = self.current.take() {
                    self.open.push(Open {
                        index: self.headings.len(),
                        level,
                        container: self.container(),
                        body_start: range.end,
                    });
                    self.headings.push(Heading {
                        text: words.trim().to_string(),
                        level,
                        body: range.end..range.end,
                    });
                }
            }
            Event::Text(words) | Event::Code(words) => {
                if let Some((_, heading)) = &mut self.current {
                    heading.push_str(words);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, heading)) = &mut self.current {
                    heading.push(' ');
                }
            }
            Event::Html(line) => {
                if let Some(found) = heading_like(line) {
                    self.html_headings.push(found);
                }
            }
            _ => {}
        }
    }

    /// Ends the open sections that `ends` picks at `at`.
    fn close(&mut self, at: usize, ends: impl Fn(&Open) -> bool) {
        let headings = &mut self.headings;
        self.open.retain(|open| {
            if !ends(open) {
                return true;
            }
            headings[open.index].body = open.body_start..at.max(open.body_start);
            false
        });
    }

    fn finish(mut self, len: usize) -> (Vec<Heading>, Vec<(String, String)>) {
        self.close(len, |_| true);
        (self.headings, self.html_headings)
    }
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

// ---- What the document shows, by offset ----

/// Source offsets of what the document shows, each list in document order.
#[derive(Default)]
struct Shown {
    /// Lines with words, and images (shown even without words).
    words: Vec<usize>,
    placeholders: Vec<(usize, String)>,
    comments: Vec<usize>,
    definitions: Vec<usize>,
    invisible: Vec<usize>,
}

impl Shown {
    fn sort(&mut self) {
        self.words.sort_unstable();
        self.placeholders.sort_by_key(|(at, _)| *at);
        self.comments.sort_unstable();
        self.definitions.sort_unstable();
        self.invisible.sort_unstable();
    }

    fn judge(&self, range: Range<usize>) -> BodyJudgement {
        let any = |offsets: &[usize]| {
            let first = offsets.partition_point(|&at| at < range.start);
            offsets.get(first).is_some_and(|&at| at < range.end)
        };
        if any(&self.words) {
            return BodyJudgement::Written;
        }
        let first = self
            .placeholders
            .partition_point(|(at, _)| *at < range.start);
        if let Some((at, text)) = self.placeholders.get(first) {
            if *at < range.end {
                return BodyJudgement::Placeholder(text.clone());
            }
        }
        if any(&self.comments) {
            BodyJudgement::CommentOnly
        } else if any(&self.definitions) {
            BodyJudgement::DefinitionOnly
        } else if any(&self.invisible) {
            BodyJudgement::Invisible
        } else {
            BodyJudgement::Empty
        }
    }
}

/// Turns the parser's events into lines of shown text, judged and recorded in [`Shown`].
struct Reader<'t> {
    /// The text being parsed.
    text: &'t str,
    /// When set, every offset is reported as this one: the text is raw HTML's, re-read.
    fixed: Option<usize>,
    current: String,
    line_at: usize,
    /// Inside a heading or front matter: structure, not content.
    hidden: usize,
    /// An item that has shown nothing yet, for a lone `-`, which reads as a placeholder.
    bare_item: Option<Range<usize>>,
    html: String,
    html_at: usize,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str, fixed: Option<usize>) -> Reader<'t> {
        Reader {
            text,
            fixed,
            current: String::new(),
            line_at: 0,
            hidden: 0,
            bare_item: None,
            html: String::new(),
            html_at: 0,
        }
    }

    fn at(&self, offset: usize) -> usize {
        self.fixed.unwrap_or(offset)
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>, shown: &mut Shown) {
        if !matches!(event, Event::Html(_) | Event::InlineHtml(_)) && !self.html.is_empty() {
            self.flush_html(shown);
        }
        if !matches!(event, Event::End(TagEnd::Item)) {
            self.bare_item = None;
        }
        match event {
            Event::Start(Tag::Heading { .. } | Tag::MetadataBlock(_)) => self.hidden += 1,
            Event::End(TagEnd::Heading(_) | TagEnd::MetadataBlock(_)) => {
                self.hidden = self.hidden.saturating_sub(1);
                self.end_line(shown);
            }
            Event::Start(Tag::Image { .. }) if self.hidden == 0 => {
                shown.words.push(self.at(range.start))
            }
            Event::Start(Tag::Item) => {
                self.end_line(shown);
                self.bare_item = Some(range);
            }
            Event::End(TagEnd::Item) => {
                if let Some(item) = self.bare_item.take() {
                    let marker = self.text[item.clone()].trim();
                    self.push(marker, item.start, shown);
                }
                self.end_line(shown);
            }
            Event::Text(text) | Event::Code(text) if self.hidden == 0 => {
                self.push(&text, range.start, shown)
            }
            Event::SoftBreak | Event::HardBreak => self.end_line(shown),
            Event::Html(text) | Event::InlineHtml(text) if self.hidden == 0 => {
                if self.html.is_empty() {
                    self.html_at = self.at(range.start);
                }
                self.html.push_str(&text);
            }
            // Blocks end lines; inline markup (emphasis, links) does not.
            Event::End(tag) if !is_inline(tag) => self.end_line(shown),
            _ => {}
        }
    }

    fn push(&mut self, text: &str, offset: usize, shown: &mut Shown) {
        let offset = self.at(offset);
        if text
            .chars()
            .any(|c| is_invisible(c) && !c.is_ascii_whitespace())
        {
            shown.invisible.push(offset);
        }
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.end_line(shown);
            }
            if self.current.is_empty() {
                self.line_at = offset;
            }
            self.current.push_str(part);
        }
    }

    fn end_line(&mut self, shown: &mut Shown) {
        if self.current.is_empty() {
            return;
        }
        match judge_line(&std::mem::take(&mut self.current)) {
            LineContent::Text => shown.words.push(self.line_at),
            LineContent::Placeholder(text) => shown.placeholders.push((self.line_at, text)),
            LineContent::Nothing => {}
        }
    }

    /// Raw HTML shows its text without comments and tags. Entities in it (`<p>&nbsp;</p>`)
    /// are decoded by reading that text once more as Markdown with every Markdown mark
    /// escaped, so it stays text and nothing in it is read as HTML again.
    fn flush_html(&mut self, shown: &mut Shown) {
        let html = std::mem::take(&mut self.html);
        let visible = strip_html_comments(&html);
        if visible.len() < html.len() {
            shown.comments.push(self.html_at);
        }
        if shows_image(&visible) {
            shown.words.push(self.html_at);
        }
        let words = strip_html_tags(&visible);
        if self.fixed.is_some() {
            // Already a re-read (never reached: escaped text holds no HTML).
            self.push(&words, self.html_at, shown);
            self.end_line(shown);
            return;
        }
        let words = escape_markdown(&words);
        let mut inner = Reader::new(&words, Some(self.html_at));
        for (event, range) in Parser::new_ext(&words, Options::empty()).into_offset_iter() {
            inner.event(event, range, shown);
        }
        inner.finish(shown);
    }

    fn finish(&mut self, shown: &mut Shown) {
        if !self.html.is_empty() {
            self.flush_html(shown);
        }
        self.end_line(shown);
    }
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

/// `text` with every ASCII punctuation mark backslash-escaped except those of entities
/// (`&`, `;`, and `#` past a line's start), and lines unindented: Markdown reads all of it as
/// plain text, decoding only entities.
fn escape_markdown(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for line in text.split_inclusive('\n') {
        for (i, c) in line.trim_start_matches([' ', '\t']).char_indices() {
            let entity_mark = c == '&' || c == ';' || (c == '#' && i > 0);
            if c.is_ascii_punctuation() && !entity_mark {
                escaped.push('\\');
            }
            escaped.push(c);
        }
    }
    escaped
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn headings_of(markdown: &str) -> Vec<(String, u8)> {
        sections(markdown)
            .into_iter()
            .map(|section| (section.heading, section.level))
            .collect()
    }

    pub(crate) fn body_of(markdown: &str, heading: &str) -> String {
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

    #[test]
    fn images_count_as_written_and_bare_html_does_not() {
        for body in [
            "![](steps.png)",
            "<img width=\"600\" alt=\"\" src=\"https://example.com/steps.png\">",
            "<p><IMG src=steps.png/></p>",
            "<details><summary>Plan</summary>Revert</details>",
        ] {
            assert_eq!(judge_body(body), BodyJudgement::Written, "{body:?}");
        }
        for body in [
            "<br>",
            "<imgx>",
            "<!-- <img src=x> -->",
            "<!DOCTYPE html>",
            "<?php ?>",
            "[](https://example.com)",
            "<p></p>\n<div>\n</div>",
        ] {
            assert!(!is_substantive(body), "{body:?}");
        }
        assert_eq!(judge_body("<p>&nbsp;</p>"), BodyJudgement::Invisible);
        assert_eq!(
            judge_body("<p>&lt;TBD&gt;</p>"),
            BodyJudgement::Placeholder("TBD".into())
        );
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
