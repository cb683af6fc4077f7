//! The portal's look (admins and editors): display name, tagline, colours, logo, home page
//! text, footer links. Colours must keep text readable: white text on the main colour and
//! black text on the secondary one must reach the WCAG AA contrast of 4.5:1, or the colour
//! is refused with the ratio it would give. Changes show on the portal at once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::domain::{Colour, Invalid};
use participe_core::site::{self, BrandingUpdate, FooterLink};
use participe_core::staff::Role;
use participe_storage::{Storage, check_image};
use participe_web::Result;
use participe_web::csrf::CsrfMultipart;

use crate::frame::InTenant;

/// Largest logo accepted.
pub const LOGO_MAX_BYTES: usize = 1024 * 1024;
const FOOTER_LINKS: usize = 3;
const AA: f64 = 4.5;

#[derive(Debug, Default, serde::Serialize)]
struct BrandingForm {
    display_name: String,
    tagline: String,
    primary_colour: String,
    secondary_colour: String,
    home_title: String,
    home_text: String,
    links: Vec<(String, String)>,
    has_logo: bool,
}

fn ratio(r: f64) -> String {
    format!("{r:.1}").replace('.', ",")
}

/// The main colour is the header's background, with white text on it.
fn main_colour(input: &str) -> Result<Colour, Invalid> {
    let c = Colour::parse(input)?;
    let r = c.contrast(Colour::WHITE);
    if r < AA {
        return Err(Invalid::new(format!(
            "le texte blanc sur {c} n'aurait qu'un contraste de {}:1, et il faut au moins 4,5:1 pour qu'il reste lisible (RGAA, critère 3.2) : choisissez une couleur plus foncée",
            ratio(r)
        )));
    }
    Ok(c)
}

/// The secondary colour is the navigation's background, with black text on it.
fn secondary_colour(input: &str) -> Result<Colour, Invalid> {
    let c = Colour::parse(input)?;
    let r = c.contrast(Colour::BLACK);
    if r < AA {
        return Err(Invalid::new(format!(
            "le texte noir sur {c} n'aurait qu'un contraste de {}:1, et il faut au moins 4,5:1 pour qu'il reste lisible (RGAA, critère 3.2) : choisissez une couleur plus claire",
            ratio(r)
        )));
    }
    Ok(c)
}

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

pub async fn show(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let b = t.console.app.branding.get(&t.console.app.pool, t.tenant()).await?;
    let mut links: Vec<(String, String)> = b
        .footer_links
        .iter()
        .map(|l| (l.label.clone(), l.url.clone()))
        .collect();
    links.resize(FOOTER_LINKS, Default::default());
    let form = BrandingForm {
        display_name: b.display_name.clone().unwrap_or_default(),
        tagline: b.tagline.clone(),
        primary_colour: b.primary_colour.clone(),
        secondary_colour: b.secondary_colour.clone(),
        home_title: b.home_title.clone(),
        home_text: b.home_text.clone(),
        links,
        has_logo: b.logo_path.is_some(),
    };
    render(&t, form, FieldErrors::default(), StatusCode::OK).await
}

async fn render(t: &InTenant, form: BrandingForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let page = t
        .render(
            "console/tenant/branding.html",
            "apparence",
            minijinja::context! { form => Serde(form), errors => Serde(errors), max_kb => LOGO_MAX_BYTES / 1024 },
        )
        .await?;
    Ok((status, page).into_response())
}

fn short_text(errors: &mut FieldErrors, field: &'static str, value: &str, max: usize) -> String {
    let v = value.trim().to_string();
    if v.chars().count() > max {
        errors.push(field, format!("{max} caractères au plus"));
    } else if v.chars().any(|c| c.is_control()) {
        errors.push(field, "ce texte contient des caractères invisibles");
    }
    v
}

fn link_url(input: &str) -> Result<String, Invalid> {
    let url = input.trim();
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 500
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>');
    if ok {
        Ok(url.to_string())
    } else {
        Err(Invalid::new("indiquez une adresse complète commençant par https://"))
    }
}

pub async fn update(t: InTenant, form: CsrfMultipart) -> Result<Response> {
    t.require(can_edit)?;
    let mut errors = FieldErrors::default();
    let display_name = short_text(&mut errors, "display_name", &form.field("display_name"), 200);
    let tagline = short_text(&mut errors, "tagline", &form.field("tagline"), 200);
    let home_title = short_text(&mut errors, "home_title", &form.field("home_title"), 200);
    let home_text = form.field("home_text");
    if home_text.chars().count() > 20_000 {
        errors.push("home_text", "20 000 caractères au plus");
    }
    let primary = errors.check("primary_colour", main_colour(&form.field("primary_colour")));
    let secondary = errors.check("secondary_colour", secondary_colour(&form.field("secondary_colour")));
    let mut links = Vec::new();
    let mut typed_links = Vec::new();
    for i in 1..=FOOTER_LINKS {
        let (label, url) = (
            form.field(&format!("link_label_{i}")),
            form.field(&format!("link_url_{i}")),
        );
        typed_links.push((label.clone(), url.clone()));
        match (label.trim().is_empty(), url.trim().is_empty()) {
            (true, true) => {}
            (false, false) => {
                let field: &'static str = ["link_url_1", "link_url_2", "link_url_3"][i - 1];
                if let Some(url) = errors.check(field, link_url(&url)) {
                    links.push(FooterLink {
                        label: label.trim().chars().take(80).collect(),
                        url,
                    });
                }
            }
            _ => errors.push(
                ["link_label_1", "link_label_2", "link_label_3"][i - 1],
                "indiquez à la fois l'intitulé et l'adresse du lien, ou aucun des deux",
            ),
        }
    }
    let logo = match form.files.get("logo") {
        Some(upload) => match check_image(&upload.bytes, LOGO_MAX_BYTES) {
            Ok((kind, _)) => Some((kind, upload.bytes.clone())),
            Err(refused) => {
                errors.push("logo", format!("{refused} ; choisissez à nouveau le fichier"));
                None
            }
        },
        None => None,
    };
    let remove_logo = form.fields.contains_key("remove_logo");
    let current = t.console.app.branding.get(&t.console.app.pool, t.tenant()).await?;
    if !errors.is_empty() {
        let typed = BrandingForm {
            display_name,
            tagline,
            primary_colour: form.field("primary_colour"),
            secondary_colour: form.field("secondary_colour"),
            home_title,
            home_text,
            links: typed_links,
            has_logo: current.logo_path.is_some(),
        };
        return render(&t, typed, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }

    let storage = &t.console.app.storage;
    let new_key = match &logo {
        Some((kind, bytes)) => {
            let key = Storage::image_key(t.tenant().id, "logo", *kind, bytes);
            storage
                .put(&key, bytes)
                .await
                .map_err(|e| participe_web::Error::Unexpected(format!("storing the logo: {e}")))?;
            Some(key)
        }
        None => None,
    };
    let update = BrandingUpdate {
        display_name: (!display_name.is_empty()).then_some(display_name),
        tagline,
        primary_colour: primary,
        secondary_colour: secondary,
        home_title: if home_title.is_empty() {
            current.home_title.clone()
        } else {
            home_title
        },
        home_text,
        footer_links: links,
    };
    let mut tx = t.begin().await?;
    site::update_branding(&mut tx, &update).await?;
    let replaced = match (&new_key, remove_logo) {
        (Some(key), _) => site::set_logo(&mut tx, Some(key)).await?,
        (None, true) => site::set_logo(&mut tx, None).await?,
        (None, false) => None,
    };
    t.audit(
        &mut tx,
        "apparence.modification",
        "",
        serde_json::json!({ "logo": new_key.is_some(), "logo_removed": remove_logo }),
    )
    .await?;
    tx.commit().await?;
    // The old file goes once nothing points at it any more.
    if let Some(old) = replaced.filter(|old| Some(old) != new_key.as_ref()) {
        let _ = storage.delete(&old).await;
    }
    t.console.app.branding.invalidate_schema(t.tenant().schema.as_str());
    t.console
        .flash("L'apparence du portail est enregistrée ; elle est déjà en ligne.")
        .await?;
    Ok(Redirect::to(&format!("/t/{}/apparence", t.tenant().slug)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_must_keep_text_readable() {
        assert!(main_colour("#00508f").is_ok());
        let err = main_colour("#ffd700").unwrap_err().0;
        assert!(
            err.contains("contraste de 1,4:1") && err.contains("plus foncée"),
            "{err}"
        );
        assert!(secondary_colour("#f3f6fb").is_ok());
        assert!(secondary_colour("#1d4f91").unwrap_err().0.contains("plus claire"));
        assert!(main_colour("bleu").is_err());
    }

    #[test]
    fn footer_links_are_web_addresses_only() {
        assert!(link_url("https://lenord.fr/contact").is_ok());
        for bad in [
            "javascript:alert(1)",
            "lenord.fr",
            "https://a b.fr",
            "data:text/html,x",
            "https://x.fr/\"onmouseover=",
        ] {
            assert!(link_url(bad).is_err(), "{bad}");
        }
    }
}
