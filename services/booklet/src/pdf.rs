//! The booklet as PDF, written with `pdf-writer` and the standard Helvetica fonts (every
//! reader has them, so no font file is shipped). Text is encoded in WinAnsi, which covers
//! French (accents, œ, guillemets, €); a character outside it prints as `?`. Lines wrap
//! on Helvetica's widths, pages break when full, and each page carries its number.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const PAGE_W: f32 = 595.0; // A4, in points
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const BOTTOM: f32 = 64.0;

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
    fn font(self) -> &'static [u8] {
        match self {
            Style::Title | Style::Heading | Style::Strong => b"F2",
            Style::Body | Style::Small => b"F1",
        }
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

    fn bold(self) -> bool {
        self.font() == b"F2"
    }
}

/// Helvetica's advance widths (thousandths of the font size), by character class; bold a
/// little wider. Close enough to wrap lines before the margin.
fn width(c: char, bold: bool) -> f32 {
    let w = match c {
        ' ' | 'i' | 'j' | 'l' | '.' | ',' | ';' | ':' | '!' | '|' | '\'' | '’' | 'í' | 'ì' | 'î' | 'ï' => 278.0,
        'f' | 't' | 'I' | '(' | ')' | '[' | ']' | '/' | '-' => 300.0,
        'r' => 333.0,
        'm' | 'M' | 'œ' => 833.0,
        'w' => 722.0,
        'W' => 944.0,
        'Œ' | 'Æ' => 1000.0,
        '—' => 1000.0,
        '«' | '»' | '–' => 556.0,
        c if c.is_ascii_digit() => 556.0,
        c if c.is_uppercase() => 700.0,
        c if c.is_lowercase() => 556.0,
        _ => 584.0,
    };
    if bold { w * 1.06 } else { w }
}

fn text_width(s: &str, style: Style) -> f32 {
    s.chars().map(|c| width(c, style.bold())).sum::<f32>() * style.size() / 1000.0
}

/// Text in WinAnsi, as the standard fonts read it.
pub fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '\u{202f}' | '\u{2009}' => b' ',
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'Ÿ' => 0x9F,
            _ => b'?',
        })
        .collect()
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

/// Builds the document page by page.
pub struct Writer {
    pages: Vec<Content>,
    y: f32,
    title: String,
}

impl Writer {
    pub fn new(title: &str) -> Writer {
        let mut w = Writer {
            pages: Vec::new(),
            y: 0.0,
            title: title.to_string(),
        };
        w.new_page();
        w
    }

    pub fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    fn room_for(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    /// A paragraph: wrapped, each line on the page that has room for it.
    pub fn paragraph(&mut self, text: &str, style: Style) {
        let indent = 0.0;
        for line in wrap(text, style, PAGE_W - 2.0 * MARGIN - indent) {
            self.room_for(style.leading());
            self.y -= style.leading();
            let content = self.pages.last_mut().expect("a page");
            content
                .begin_text()
                .set_font(Name(style.font()), style.size())
                .next_line(MARGIN + indent, self.y)
                .show(Str(&win_ansi(&line)))
                .end_text();
        }
    }

    /// Vertical space.
    pub fn space(&mut self, points: f32) {
        self.y -= points;
    }

    /// Keeps the next `lines` lines of `style` together (a heading with its first lines).
    pub fn keep(&mut self, lines: usize, style: Style) {
        self.room_for(lines as f32 * style.leading());
    }

    /// The finished PDF, with page numbers in the footer.
    pub fn finish(self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let mut next = 6;
        let count = self.pages.len();
        let mut page_ids = Vec::with_capacity(count);
        let mut content_ids = Vec::with_capacity(count);
        for _ in 0..count {
            page_ids.push(Ref::new(next));
            content_ids.push(Ref::new(next + 1));
            next += 2;
        }
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(page_ids.iter().copied()).count(count as i32);
        pdf.type1_font(regular)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info)
            .title(pdf_writer::TextStr(&self.title))
            .producer(pdf_writer::TextStr("Participe"));
        for (n, mut content) in self.pages.into_iter().enumerate() {
            let footer = format!("{} — page {} sur {count}", self.title, n + 1);
            let footer = wrap(&footer, Style::Small, PAGE_W - 2.0 * MARGIN)
                .into_iter()
                .next()
                .unwrap_or_default();
            content
                .begin_text()
                .set_font(Name(b"F1"), Style::Small.size())
                .next_line(MARGIN, BOTTOM - 28.0)
                .show(Str(&win_ansi(&footer)))
                .end_text();
            let mut page = pdf.page(page_ids[n]);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .parent(tree)
                .contents(content_ids[n]);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), regular).pair(Name(b"F2"), bold);
            fonts.finish();
            resources.finish();
            page.finish();
            pdf.stream(content_ids[n], &content.finish());
        }
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_is_encoded_and_wrapped() {
        assert_eq!(win_ansi("Été « œuvre » 5 €"), b"\xc9t\xe9 \xab \x9cuvre \xbb 5 \x80");
        assert_eq!(win_ansi("漢"), b"?");
        let lines = wrap(&"mot ".repeat(200), Style::Body, 300.0);
        assert!(lines.len() > 5 && lines.iter().all(|l| text_width(l, Style::Body) <= 300.0));
        let long = wrap(&"x".repeat(500), Style::Body, 100.0);
        assert!(long.len() > 1 && long.iter().all(|l| text_width(l, Style::Body) <= 100.0));
    }
}
