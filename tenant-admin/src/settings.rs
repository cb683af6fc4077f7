//! The portal's settings (admins only): the sender name of its mails, the number of
//! distinct reports that hides a contribution pending review, and whether audience
//! statistics are public.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::site::{self, Settings};
use participe_core::staff::Role;
use participe_web::csrf::CsrfForm;
use participe_web::{LANGUAGES, Result};

use crate::frame::InTenant;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SettingsForm {
    sender_name: String,
    autohide_threshold: String,
    stats_public: Option<String>,
    /// `langue_<code>` checkboxes, one per language a portal can offer.
    #[serde(flatten)]
    languages: std::collections::HashMap<String, String>,
}

fn language_options(form: &SettingsForm) -> Vec<minijinja::Value> {
    LANGUAGES
        .iter()
        .filter(|(code, _)| *code != "fr")
        .map(|(code, name)| {
            let field = format!("langue_{code}");
            minijinja::context! { checked => form.languages.contains_key(&field), field, name => *name, code => *code }
        })
        .collect()
}

fn is_admin(role: Role) -> bool {
    role == Role::Admin
}

pub async fn show(t: InTenant) -> Result<Response> {
    t.require(is_admin)?;
    let mut tx = t.begin().await?;
    let s = site::settings(&mut tx).await?;
    tx.commit().await?;
    let form = SettingsForm {
        sender_name: s.sender_name.unwrap_or_default(),
        autohide_threshold: s.autohide_threshold.to_string(),
        stats_public: s.stats_public.then(|| "on".to_string()),
        languages: s
            .languages
            .iter()
            .map(|l| (format!("langue_{l}"), "on".to_string()))
            .collect(),
    };
    render(&t, form, FieldErrors::default(), StatusCode::OK).await
}

async fn render(t: &InTenant, form: SettingsForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let page = t
        .render(
            "console/tenant/settings.html",
            "parametres",
            minijinja::context! { languages => language_options(&form), form => Serde(&form), errors => Serde(errors) },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn update(t: InTenant, CsrfForm(form): CsrfForm<SettingsForm>) -> Result<Response> {
    t.require(is_admin)?;
    let mut errors = FieldErrors::default();
    let sender = form.sender_name.trim();
    if sender.chars().count() > 100 || sender.chars().any(char::is_control) {
        errors.push("sender_name", "100 caractères au plus, sans caractère invisible");
    }
    let threshold = match form.autohide_threshold.trim().parse::<i32>() {
        Ok(n) if (1..=100).contains(&n) => n,
        _ => {
            errors.push(
                "autohide_threshold",
                "indiquez un nombre de signalements entre 1 et 100",
            );
            0
        }
    };
    if !errors.is_empty() {
        return render(&t, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // French is the source language: always offered, first.
    let languages = LANGUAGES
        .iter()
        .filter(|(code, _)| *code == "fr" || form.languages.contains_key(&format!("langue_{code}")))
        .map(|(code, _)| code.to_string())
        .collect();
    let settings = Settings {
        sender_name: (!sender.is_empty()).then(|| sender.to_string()),
        languages,
        stats_public: form.stats_public.is_some(),
        autohide_threshold: threshold,
    };
    let mut tx = t.begin().await?;
    site::update_settings(&mut tx, &settings).await?;
    t.audit(&mut tx, "parametres.modification", "", serde_json::json!(settings))
        .await?;
    tx.commit().await?;
    t.console.flash("Les paramètres sont enregistrés.").await?;
    Ok(Redirect::to(&format!("/t/{}/parametres", t.tenant().slug)).into_response())
}
