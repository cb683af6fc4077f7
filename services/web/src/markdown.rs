//! Markdown written by staff (descriptions, pages, home text) to HTML that is safe to embed:
//! pulldown-cmark renders, ammonia keeps only harmless tags, attributes and URL schemes.

use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser, html};

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        // Headings inside a page body start below the page's own h1.
        .rm_tags(["h1", "img"]);
    b
});

pub fn to_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options));
    CLEANER.clean(&raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_survives() {
        let html = to_html("## Titre\n\nUn *texte* avec [un lien](https://lenord.fr).\n\n- a\n- b");
        assert!(html.contains("<h2>Titre</h2>"));
        assert!(html.contains("<em>texte</em>"));
        assert!(html.contains(r#"<a href="https://lenord.fr" rel="noopener noreferrer">un lien</a>"#));
        assert!(html.contains("<li>a</li>"));
    }

    #[test]
    fn scripts_handlers_and_javascript_links_do_not() {
        let html = to_html(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n<a href=\"#\" onclick=\"alert(1)\">y</a>\n\n<iframe src=//evil></iframe>",
        );
        for bad in ["<script", "onerror", "javascript:", "onclick", "<iframe", "<img"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }
}
