//! One minijinja environment for the whole binary, built from the templates each crate
//! embeds (`web/…`, `portal/…`, `console/…`, `ops/…`). Templates end in `.html`, so
//! autoescaping is on for all of them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::response::Html;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State, UndefinedBehavior};
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
/// catalog of the page's `lang`, then fills the `{placeholders}`. The result is a plain
/// string, so autoescaping applies to it and to what was filled in.
fn translate(state: &State, text: &str, kwargs: Kwargs) -> std::result::Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut out = CATALOGS
        .get(lang.as_str())
        .and_then(|c| c.get(text))
        .cloned()
        .unwrap_or_else(|| text.to_string());
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        out = out.replace(&format!("{{{key}}}"), &value.to_string());
    }
    Ok(out)
}

/// An RFC 3339 time through `show`; anything else as it is.
fn in_paris(value: &str, show: fn(time::OffsetDateTime) -> String) -> String {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(show)
        .unwrap_or_else(|_| value.to_string())
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
