//! The staff member's own account: the second factor (TOTP), which operators may require of
//! tenant admins.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::staff::{self, Role};
use participe_web::csrf::CsrfForm;
use participe_web::{Result, session};

use crate::frame::Console;

const SETUP_KEY: &str = "totp_setup";

/// The QR code of an `otpauth://` URL as inline SVG, for authenticator apps; the secret is
/// shown as text beside it for those who type it.
fn qr_svg(url: &str) -> String {
    qrcode::QrCode::new(url.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .dark_color(qrcode::render::svg::Color("#000000"))
                .light_color(qrcode::render::svg::Color("#ffffff"))
                .build()
        })
        // Inline in HTML, an `<?xml …?>` declaration is not allowed.
        .map(|svg| match svg.strip_prefix("<?xml") {
            Some(rest) => rest
                .split_once("?>")
                .map_or(svg.clone(), |(_, body)| body.trim_start().to_string()),
            None => svg,
        })
        .unwrap_or_default()
}

pub async fn show(console: Console) -> Result<Response> {
    render(&console, FieldErrors::default(), StatusCode::OK).await
}

async fn render(console: &Console, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let staff = console.staff()?.clone();
    let memberships = staff::memberships(&console.app.pool, staff.id).await?;
    let required =
        memberships.iter().any(|m| m.role == Role::Admin) && staff::admins_need_totp(&console.app.pool).await?;
    let (secret, qr) = if staff.totp_enabled {
        (None, None)
    } else {
        let secret = match console
            .session
            .get::<String>(SETUP_KEY)
            .await
            .map_err(session::session_error)?
        {
            Some(s) => s,
            None => {
                let s = staff::new_totp_secret();
                console
                    .session
                    .insert(SETUP_KEY, &s)
                    .await
                    .map_err(session::session_error)?;
                s
            }
        };
        let url = staff::totp_url(&secret, &staff.email)?;
        (Some(secret), Some(minijinja::Value::from_safe_string(qr_svg(&url))))
    };
    let page = console
        .render(
            "console/account.html",
            minijinja::context! { secret, qr, required, errors => Serde(errors) },
        )
        .await?;
    Ok((status, page).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn enable_totp(console: Console, CsrfForm(form): CsrfForm<CodeForm>) -> Result<Response> {
    let staff = console.staff()?.clone();
    let Some(secret) = console
        .session
        .get::<String>(SETUP_KEY)
        .await
        .map_err(session::session_error)?
    else {
        return Ok(Redirect::to("/compte").into_response());
    };
    if !staff::enable_totp(&console.app.pool, &staff, &secret, &form.code).await? {
        let errors = FieldErrors::one(
            "code",
            "code incorrect : saisissez le code à 6 chiffres affiché par votre application",
        );
        return render(&console, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    console
        .session
        .remove::<String>(SETUP_KEY)
        .await
        .map_err(session::session_error)?;
    console
        .flash("La double authentification est activée : un code vous sera demandé à chaque connexion.")
        .await?;
    Ok(Redirect::to("/compte").into_response())
}

pub async fn disable_totp(console: Console, CsrfForm(form): CsrfForm<CodeForm>) -> Result<Response> {
    let staff = console.staff()?.clone();
    let memberships = staff::memberships(&console.app.pool, staff.id).await?;
    if memberships.iter().any(|m| m.role == Role::Admin) && staff::admins_need_totp(&console.app.pool).await? {
        let errors = FieldErrors::one(
            "code",
            "la plateforme exige la double authentification pour les administrateur·rices",
        );
        return render(&console, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if !staff::check_totp(&console.app.pool, staff.id, &form.code).await? {
        let errors = FieldErrors::one("code", "code incorrect ou déjà utilisé");
        return render(&console, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    staff::disable_totp(&console.app.pool, staff.id).await?;
    console.flash("La double authentification est désactivée.").await?;
    Ok(Redirect::to("/compte").into_response())
}
