//! Text citizens write (contributions, comments) to HTML: every character escaped, blank
//! lines make paragraphs, single line breaks stay, and web addresses become links (found by
//! `linkify`, marked `nofollow ugc`). Nothing else a citizen types can become markup.

use linkify::{LinkFinder, LinkKind};

pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4 + 16);
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        for (i, line) in paragraph.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            for span in finder.spans(line) {
                let s = span.as_str();
                // Only web links: `javascript:` and other schemes stay text.
                let is_web = span.kind().is_some() && (s.starts_with("http://") || s.starts_with("https://"));
                if is_web {
                    out.push_str("<a href=\"");
                    escape_into(&mut out, s);
                    out.push_str("\" rel=\"nofollow ugc noopener noreferrer\">");
                    escape_into(&mut out, s);
                    out.push_str("</a>");
                } else {
                    escape_into(&mut out, s);
                }
            }
        }
        out.push_str("</p>\n");
    }
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Template syntax stays inert anyway (nothing renders citizen text as a
            // template); escaping the braces keeps it from looking like it could.
            '{' => out.push_str("&#123;"),
            '}' => out.push_str("&#125;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn paragraphs_line_breaks_and_links() {
        let html = to_html("Bonjour,\nvoir https://lenord.fr/page?a=1&b=2.\n\nMerci");
        assert_eq!(
            html,
            "<p>Bonjour,<br>\nvoir <a href=\"https://lenord.fr/page?a=1&amp;b=2\" rel=\"nofollow ugc noopener noreferrer\">https://lenord.fr/page?a=1&amp;b=2</a>.</p>\n<p>Merci</p>\n"
        );
    }

    #[test]
    fn markup_scripts_and_other_schemes_stay_text() {
        let html = to_html(
            "<script>alert(1)</script> <img src=x onerror=alert(1)> javascript:alert(1) {{ 7*7 }} [a](javascript:x)",
        );
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("href"));
        assert!(!html.contains("{{"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
