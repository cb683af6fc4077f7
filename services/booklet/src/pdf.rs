//! The booklet as PDF, written with krilla. The text is set in DejaVu Sans (the `dejavu`
//! crate's files, compiled in: the production image has no fonts), embedded as a subset
//! with its ToUnicode map, so a name like « Łódź, Ştefan, Ğül, Nguyễn » prints and copies
//! back exactly. The document is tagged for screen readers (RGAA asks it of documents a
//! collectivité publishes): its language is French, each block is a heading (H1–H3) or a
//! paragraph in reading order, and the running footer is an artifact they skip. Lines wrap
//! on the font's own advance widths, pages break when full, each page carries its number.

use std::num::NonZeroU16;
use std::sync::LazyLock;

use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::surface::Surface;
use krilla::tagging::{Artifact, ArtifactType, ContentTag, SpanTag, Tag, TagGroup, TagKind, TagTree};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

const PAGE_W: f32 = 595.0; // A4, in points
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const BOTTOM: f32 = 64.0;
/// The document's language, for /Lang and the XMP metadata.
const LANG: &str = "fr";

/// A run of text in a style.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    Title,
    Heading,
    Strong,
    Body,
    Small,
}

impl Style {
    fn bold(self) -> bool {
        matches!(self, Style::Title | Style::Heading | Style::Strong)
    }

    fn size(self) -> f32 {
        match self {
            Style::Title => 22.0,
            Style::Heading => 15.0,
            Style::Strong => 11.5,
            Style::Body => 10.5,
            Style::Small => 9.0,
        }
    }

    fn leading(self) -> f32 {
        self.size() * 1.35
    }

    /// What a screen reader announces the block as.
    fn tag(self, text: &str) -> TagKind {
        let heading =
            |level: u16| Tag::Hn(NonZeroU16::new(level).expect("a level from 1"), Some(text.to_string())).into();
        match self {
            Style::Title => heading(1),
            Style::Heading => heading(2),
            Style::Strong => heading(3),
            Style::Body | Style::Small => Tag::P.into(),
        }
    }
}

/// A face's advance widths, read once from the font file.
struct Face {
    data: &'static [u8],
    font: FontRef<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        let font = FontRef::new(data).expect("DejaVu Sans is a valid font");
        let units_per_em = f32::from(font.metrics(Size::unscaled(), LocationRef::default()).units_per_em);
        Face {
            data,
            font,
            units_per_em,
        }
    }

    /// Width of `s` at `size` points: the sum of its glyphs' advances (a character the
    /// font lacks takes the width of its missing-glyph box).
    fn width(&self, s: &str, size: f32) -> f32 {
        let charmap = self.font.charmap();
        let metrics = self.font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let units: f32 = s
            .chars()
            .map(|c| metrics.advance_width(charmap.map(c).unwrap_or_default()).unwrap_or(0.0))
            .sum();
        units * size / self.units_per_em
    }
}

static REGULAR: LazyLock<Face> = LazyLock::new(|| Face::load(dejavu::sans::regular()));
static BOLD: LazyLock<Face> = LazyLock::new(|| Face::load(dejavu::sans::bold()));

fn face(style: Style) -> &'static Face {
    if style.bold() { &BOLD } else { &REGULAR }
}

fn text_width(s: &str, style: Style) -> f32 {
    face(style).width(s, style.size())
}

/// Lines of at most `max` points: words kept whole when they fit, cut when one alone is
/// wider than a line.
fn wrap(text: &str, style: Style, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, style) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if text_width(&piece, style) > max {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        line = piece;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// One line placed on a page, and the block (heading or paragraph) it belongs to.
struct Line {
    block: usize,
    style: Style,
    /// Baseline, in points from the top of the page.
    y: f32,
    text: String,
}

/// Lays the document out page by page; `finish` draws and tags it.
pub struct Writer {
    pages: Vec<Vec<Line>>,
    /// Each block's tag, in reading order.
    blocks: Vec<TagKind>,
    /// Distance from the top of the page to the last baseline.
    y: f32,
    title: String,
}

impl Writer {
    pub fn new(title: &str) -> Writer {
        let mut w = Writer {
            pages: Vec::new(),
            blocks: Vec::new(),
            y: 0.0,
            title: title.to_string(),
        };
        w.new_page();
        w
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    fn room_for(&mut self, height: f32) {
        if self.y + height > PAGE_H - BOTTOM {
            self.new_page();
        }
    }

    /// A paragraph: wrapped, each line on the page that has room for it.
    pub fn paragraph(&mut self, text: &str, style: Style) {
        let block = self.blocks.len();
        self.blocks.push(style.tag(text));
        for text in wrap(text, style, PAGE_W - 2.0 * MARGIN) {
            self.room_for(style.leading());
            self.y += style.leading();
            let y = self.y;
            self.pages
                .last_mut()
                .expect("a page")
                .push(Line { block, style, y, text });
        }
    }

    /// Vertical space.
    pub fn space(&mut self, points: f32) {
        self.y += points;
    }

    /// Keeps the next `lines` lines of `style` together (a heading with its first lines).
    pub fn keep(&mut self, lines: usize, style: Style) {
        self.room_for(lines as f32 * style.leading());
    }

    /// The finished PDF, with page numbers in the footer. An error only comes from a bug
    /// (krilla checks a document against a standard only when one is asked for); it says
    /// what went wrong, for the job's failure.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        let mut document = Document::new_with(SerializeSettings {
            enable_tagging: true,
            ..SerializeSettings::default()
        });
        let regular = Font::new(REGULAR.data.into(), 0).expect("DejaVu Sans");
        let bold = Font::new(BOLD.data.into(), 0).expect("DejaVu Sans Bold");
        let mut groups: Vec<TagGroup> = self.blocks.into_iter().map(TagGroup::new).collect();
        let count = self.pages.len();
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a page size");
        for (n, lines) in self.pages.into_iter().enumerate() {
            let mut page = document.start_page_with(settings.clone());
            let mut surface = page.surface();
            for line in lines {
                let font = if line.style.bold() {
                    bold.clone()
                } else {
                    regular.clone()
                };
                let id = surface.start_tagged(ContentTag::Span(SpanTag::empty()));
                draw(&mut surface, font, line.style, MARGIN, line.y, &line.text);
                surface.end_tagged();
                groups[line.block].push(id);
            }
            let footer = format!("{} — page {} sur {count}", self.title, n + 1);
            let footer = wrap(&footer, Style::Small, PAGE_W - 2.0 * MARGIN)
                .into_iter()
                .next()
                .unwrap_or_default();
            surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::Footer)));
            draw(
                &mut surface,
                regular.clone(),
                Style::Small,
                MARGIN,
                PAGE_H - BOTTOM + 28.0,
                &footer,
            );
            surface.end_tagged();
            surface.finish();
            page.finish();
        }
        let mut tree = TagTree::new().with_lang(Some(LANG.to_string()));
        for group in groups {
            tree.push(group);
        }
        document.set_tag_tree(tree);
        document.set_metadata(
            Metadata::new()
                .title(self.title)
                .language(LANG.to_string())
                .creator("Participe".to_string())
                .producer("Participe".to_string()),
        );
        document.finish().map_err(|e| format!("writing the PDF: {e:?}"))
    }
}

fn draw(surface: &mut Surface<'_>, font: Font, style: Style, x: f32, y: f32, text: &str) {
    surface.draw_text(
        Point::from_xy(x, y),
        font,
        style.size(),
        text,
        false,
        TextDirection::Auto,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_on_the_fonts_widths() {
        // DejaVu's own advances: an m is wider than an i, bold wider than regular.
        assert!(text_width("m", Style::Body) > text_width("i", Style::Body));
        assert!(text_width("mot", Style::Strong) > text_width("mot", Style::Body) * 11.5 / 10.5);
        let lines = wrap(&"mot ".repeat(200), Style::Body, 300.0);
        assert!(lines.len() > 5 && lines.iter().all(|l| text_width(l, Style::Body) <= 300.0));
        let long = wrap(&"x".repeat(500), Style::Body, 100.0);
        assert!(long.len() > 1 && long.iter().all(|l| text_width(l, Style::Body) <= 100.0));
        assert_eq!(
            wrap("Łódź, Ştefan, Ğül, Nguyễn — ∑", Style::Body, 400.0),
            ["Łódź, Ştefan, Ğül, Nguyễn — ∑"]
        );
    }

    #[test]
    fn the_document_is_a_pdf_with_its_language() {
        let mut w = Writer::new("Livret — Łódź");
        w.paragraph("Livret d'expression", Style::Title);
        w.paragraph("Nguyễn", Style::Body);
        let pdf = w.finish().unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains("/Lang(fr)/StructTreeRoot") && text.contains("/S/H1"),
            "tagged, in French"
        );
    }
}
