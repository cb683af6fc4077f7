//! Markdown written by staff (descriptions, pages, home text) to HTML that is safe to embed:
//! pulldown-cmark renders, ammonia keeps only harmless tags, attributes and URL schemes.
//! The same texts come back on every request (a portal's home text, a page body), and
//! sanitizing parses HTML, so results are memoised by text, within a bounded size.

use std::sync::{Arc, LazyLock};

use moka::sync::Cache;

use pulldown_cmark::{Options, Parser, html};

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        // Headings inside a page body start below the page's own h1.
        .rm_tags(["h1", "img"]);
    b
});

static RENDERED: LazyLock<Cache<Arc<str>, Arc<str>>> = LazyLock::new(|| {
    Cache::builder()
        // Bytes of source and result together; 32 MiB holds thousands of pages.
        .weigher(|k: &Arc<str>, v: &Arc<str>| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
        .max_capacity(32 * 1024 * 1024)
        .build()
});

/// Sanitized HTML for `markdown`, memoised.
pub fn to_html_cached(markdown: &str) -> Arc<str> {
    let key: Arc<str> = Arc::from(markdown);
    RENDERED.get_with(key, || Arc::from(to_html(markdown)))
}

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
    fn memoised_results_are_the_same_html() {
        let text = "Un **texte** <script>x</script>";
        assert_eq!(&*to_html_cached(text), to_html(text).as_str());
        assert_eq!(&*to_html_cached(text), to_html(text).as_str());
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
