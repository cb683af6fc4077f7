//! One minijinja environment for the whole binary, built from the templates each crate
//! embeds (`web/…`, `portal/…`, `console/…`, `ops/…`). Pages end in `.html` and are
//! autoescaped; mails end in `.txt` and are not.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::response::Html;
use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, HtmlEscape, State, UndefinedBehavior};
use serde::Serialize;

use participe_core::domain::local_time;

use crate::{Error, Result};

/// A crate's contribution to the environment: its embedded templates.
pub type Bundle = fn(&mut Environment<'static>);

#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
}

impl Templates {
    pub fn new(bundles: &[Bundle]) -> Self {
        let mut env = Environment::new();
        // Printing a missing variable is an error (a typo shows in tests); testing one with
        // `if` is not.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.add_function("t", translate);
        env.add_filter("markdown", |text: &str| {
            Value::from_safe_string(crate::markdown::to_html_cached(text).to_string())
        });
        env.add_filter("plaintext", |text: &str| {
            Value::from_safe_string(crate::plaintext::to_html(text))
        });
        env.add_filter("date_fr", date_fr);
        // « 12 500 € »: whole euros, with the spaces French puts in.
        env.add_filter("euros", participe_core::budgets::euros);
        // `<time datetime>` takes at most milliseconds: the time in UTC to the second.
        env.add_filter("datetime", |v: &str| in_paris(v, datetime_attr));
        // Events' times, stored in UTC, read in Paris time: `jeudi 3 décembre 2026`,
        // `18 h 30`, and the value of a `datetime-local` field.
        env.add_filter("day_fr", |v: &str| in_paris(v, local_time::day_fr));
        env.add_filter("hour_fr", |v: &str| in_paris(v, local_time::hour_fr));
        env.add_filter("local_input", |v: &str| in_paris(v, local_time::to_local_input));
        env.add_global("static_version", crate::static_files::VERSION.as_str());
        for add in bundles {
            add(&mut env);
        }
        Templates { env: Arc::new(env) }
    }

    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<Html<String>> {
        let template = self.env.get_template(name)?;
        Ok(Html(template.render(Value::from(minijinja::value::Serde(&ctx)))?))
    }

    /// Every template name, for tests that render them all.
    pub fn names(&self) -> Vec<String> {
        self.env.templates().map(|(name, _)| name.to_string()).collect()
    }
}

impl From<Error> for minijinja::Error {
    fn from(e: Error) -> Self {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    }
}

/// The web crate's own templates: the document skeleton and the error pages.
pub fn add_templates(env: &mut Environment<'static>) {
    minijinja_embed::load_templates!(*env);
}

/// The languages a portal can offer: French (the source) and each catalog, with the name
/// of each in itself.
pub const LANGUAGES: &[(&str, &str)] = &[("fr", "Français"), ("en", "English")];

/// Each catalog's JSON as embedded: (language, `locales/<language>.json`).
pub const CATALOG_SOURCES: &[(&str, &str)] = &[("en", include_str!("../../../locales/en.json"))];

/// Catalogs from French (the source language) to other languages. French needs none; a
/// string missing from a catalog shows in French rather than not at all.
static CATALOGS: LazyLock<HashMap<&'static str, HashMap<String, String>>> = LazyLock::new(|| {
    CATALOG_SOURCES
        .iter()
        .copied()
        .map(|(lang, json)| {
            (
                lang,
                serde_json::from_str(json).expect("locales/*.json are valid JSON maps"),
            )
        })
        .collect()
});

/// `{{ t("Le portail de {nom}", nom=tenant.name) }}`: looks the French text up in the
/// catalog of the page's `lang`, then fills the `{placeholders}`. In an HTML template the
/// text and each plain value are escaped here and the result is marked safe, so a value that
/// is already HTML (a macro's output: an author's name with its profile) is not escaped a
/// second time (`d&#x27;élève` on the page); in a text template (mails) nothing is escaped.
fn translate(state: &State, text: &str, kwargs: Kwargs) -> std::result::Result<Value, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let source = CATALOGS
        .get(lang.as_str())
        .and_then(|c| c.get(text))
        .map_or(text, String::as_str);
    let html = !matches!(state.auto_escape(), AutoEscape::None);
    let mut out = if html {
        HtmlEscape(source).to_string()
    } else {
        source.to_string()
    };
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        let filled = if html && !value.is_safe() {
            HtmlEscape(&value.to_string()).to_string()
        } else {
            value.to_string()
        };
        out = out.replace(&format!("{{{key}}}"), &filled);
    }
    Ok(if html {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    })
}

/// An RFC 3339 time through `show`; anything else as it is.
fn in_paris(value: &str, show: fn(time::OffsetDateTime) -> String) -> String {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(show)
        .unwrap_or_else(|_| value.to_string())
}

/// A time as `<time datetime>` wants it: UTC, to the second (`2026-12-03T17:30:00Z`).
fn datetime_attr(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `2026-11-25T…` → `25 novembre 2026`.
fn date_fr(value: &str) -> String {
    let date = value.get(..10).unwrap_or(value);
    let mut parts = date.split('-');
    match (
        parts.next(),
        parts.next().and_then(|m| m.parse::<usize>().ok()),
        parts.next().and_then(|d| d.parse::<u32>().ok()),
    ) {
        (Some(y), Some(m @ 1..=12), Some(d)) => {
            let day = if d == 1 { "1er".to_string() } else { d.to_string() };
            format!("{day} {} {y}", local_time::MONTHS[m - 1])
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(template: &'static str) -> Environment<'static> {
        let mut env = Environment::new();
        env.add_function("t", translate);
        env.add_template("x.html", template).unwrap();
        env
    }

    #[test]
    fn translation_falls_back_to_french_and_fills_placeholders_escaped() {
        let env = env_with(r#"{{ t("Le portail de {nom}", nom=name) }}"#);
        let out = env
            .get_template("x.html")
            .unwrap()
            .render(minijinja::context! { name => "<b>Nord</b>", lang => "fr" })
            .unwrap();
        assert_eq!(out, "Le portail de &lt;b&gt;Nord&lt;&#x2f;b&gt;");
    }

    #[test]
    fn html_given_to_a_translation_is_not_escaped_twice() {
        let env = env_with(
            r#"{% macro author(n) %}{{ n }} (élu·e){% endmacro %}{{ t("Par {nom} — l'avis de {autre}", nom=author(name), autre=name) }}"#,
        );
        let out = env
            .get_template("x.html")
            .unwrap()
            .render(minijinja::context! { name => "Amélie, parent d'élève & <co>", lang => "fr" })
            .unwrap();
        let once = "Amélie, parent d&#x27;élève &amp; &lt;co&gt;";
        assert_eq!(out, format!("Par {once} (élu·e) — l&#x27;avis de {once}"));
    }

    #[test]
    fn translation_in_a_mail_is_plain_text() {
        let mut env = Environment::new();
        env.add_function("t", translate);
        env.add_template("m.txt", r#"{{ t("Bonjour {nom}", nom=name) }}"#)
            .unwrap();
        let out = env
            .get_template("m.txt")
            .unwrap()
            .render(minijinja::context! { name => "Amélie d'Ascq & co", lang => "fr" })
            .unwrap();
        assert_eq!(out, "Bonjour Amélie d'Ascq & co");
    }

    #[test]
    fn translation_uses_the_catalog_of_the_page_language() {
        let env = env_with(r#"{{ t("Aller au contenu") }}"#);
        let out = env
            .get_template("x.html")
            .unwrap()
            .render(minijinja::context! { lang => "en" })
            .unwrap();
        assert_eq!(out, "Skip to content");
    }

    #[test]
    fn time_elements_get_seconds_at_most() {
        assert_eq!(
            in_paris("2026-12-03T18:30:05.123456+01:00", datetime_attr),
            "2026-12-03T17:30:05Z"
        );
    }

    #[test]
    fn dates_read_in_french() {
        assert_eq!(
            in_paris("2026-12-03T17:30:00Z", local_time::hour_fr),
            "18\u{a0}h\u{a0}30"
        );
        assert_eq!(in_paris("demain", local_time::day_fr), "demain");
        assert_eq!(date_fr("2026-11-25T10:00:00Z"), "25 novembre 2026");
        assert_eq!(date_fr("2026-05-01"), "1er mai 2026");
        assert_eq!(date_fr("n/a"), "n/a");
    }
}
