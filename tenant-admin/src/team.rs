//! A tenant's team (admins only): members and their roles, invitations by mail with a link
//! that expires, removal. A tenant always keeps at least one admin. Accepting an invitation
//! is `accept`, reached from the mail by the invited person.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::domain::Email;
use participe_core::staff::{self, Role};
use participe_core::{FieldErrors, TenantTx};
use participe_mail::Mail;
use participe_web::csrf::{self, CsrfForm};
use participe_web::kit::Checked;
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::frame::{Console, InTenant};

fn is_admin(role: Role) -> bool {
    role == Role::Admin
}

fn roles() -> Vec<minijinja::Value> {
    Role::ALL
        .iter()
        .map(|r| minijinja::context! { value => r.as_str(), label => r.label() })
        .collect()
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    role: String,
}

pub async fn show(t: InTenant) -> Result<Response> {
    t.require(is_admin)?;
    render(
        &t,
        InviteForm {
            role: "editor".into(),
            ..Default::default()
        },
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render(t: &InTenant, form: InviteForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let mut tx = t.begin().await?;
    let members = staff::members(&mut tx).await?;
    let invitations = staff::pending_invitations(&mut tx).await?;
    tx.commit().await?;
    let page = t
        .render(
            "console/tenant/team.html",
            "equipe",
            minijinja::context! {
                members => Serde(members), invitations => Serde(invitations), roles => roles(),
                form => Serde(form), errors => Serde(errors), me => t.staff().id.to_string(),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

fn back(t: &InTenant) -> Response {
    Redirect::to(&format!("/t/{}/equipe", t.tenant().slug)).into_response()
}

pub async fn invite(t: InTenant, CsrfForm(form): CsrfForm<InviteForm>) -> Result<Response> {
    t.require(is_admin)?;
    let mut errors = FieldErrors::default();
    let email = errors.check("email", Email::parse(&form.email));
    let role = errors.check("role", form.role.parse::<Role>());
    let (Some(email), Some(role)) = (email, role) else {
        return render(&t, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let mut tx = t.begin().await?;
    let token = match staff::invite(&mut tx, &email, role, t.staff().id).await.checked()? {
        Ok(token) => token,
        Err(errors) => {
            drop(tx);
            return render(&t, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    t.audit(
        &mut tx,
        "equipe.invitation",
        email.as_str(),
        serde_json::json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    let link = t.console.link(&format!("/invitation/{}", token.as_str()));
    let text = t.console.render_mail(
        "console/mail/invitation.txt",
        minijinja::context! {
            inviter => t.staff().display_name.clone(), tenant => t.tenant().name.clone(),
            role => role.label(), link, days => staff::INVITATION_DAYS,
        },
    )?;
    t.console.send_later(Mail {
        attachments: Vec::new(),
        to: email.to_string(),
        subject: format!(
            "Invitation à rejoindre l'équipe du portail {} — Participe",
            t.tenant().name
        ),
        text,
        from_name: None,
        unsubscribe: None,
    });
    t.console
        .flash(format!("Une invitation a été envoyée à {email}."))
        .await?;
    Ok(back(&t))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct MemberForm {
    staff_id: String,
    role: String,
}

/// Applies a change to a member; a member that is not in this tenant is not found.
async fn change_member(t: &InTenant, form: &MemberForm, remove: bool) -> Result<Response> {
    t.require(is_admin)?;
    let staff_id: Uuid = form.staff_id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    let outcome = if remove {
        staff::remove_member(&mut tx, staff_id).await.map(|_| None)
    } else {
        let role: Role = form
            .role
            .parse()
            .map_err(|_| Error::BadRequest("rôle inconnu".into()))?;
        staff::change_role(&mut tx, staff_id, role).await.map(|_| Some(role))
    };
    match outcome.checked()? {
        Ok(role) => {
            let action = if remove { "equipe.retrait" } else { "equipe.role" };
            t.audit(
                &mut tx,
                action,
                &staff_id.to_string(),
                serde_json::json!({ "role": role }),
            )
            .await?;
            tx.commit().await?;
            t.console
                .flash(if remove {
                    "Le membre a été retiré de l'équipe."
                } else {
                    "Le rôle a été modifié."
                })
                .await?;
            if remove && staff_id == t.staff().id {
                return Ok(Redirect::to("/").into_response());
            }
            Ok(back(t))
        }
        Err(errors) => {
            drop(tx);
            let message = errors.0.first().map(|e| e.message.clone()).unwrap_or_default();
            t.console.flash(format!("Impossible : {message}.")).await?;
            Ok(back(t))
        }
    }
}

pub async fn change_role(t: InTenant, CsrfForm(form): CsrfForm<MemberForm>) -> Result<Response> {
    change_member(&t, &form, false).await
}

pub async fn remove(t: InTenant, CsrfForm(form): CsrfForm<MemberForm>) -> Result<Response> {
    change_member(&t, &form, true).await
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    invitation_id: String,
}

pub async fn revoke(t: InTenant, CsrfForm(form): CsrfForm<RevokeForm>) -> Result<Response> {
    t.require(is_admin)?;
    let id: Uuid = form.invitation_id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    staff::revoke_invitation(&mut tx, id).await?;
    t.audit(
        &mut tx,
        "equipe.invitation.annulation",
        &id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("L'invitation est annulée.").await?;
    Ok(back(&t))
}

/// The page an invitation link opens.
pub async fn invitation(console: Console, Path(token): Path<String>) -> Result<Response> {
    let Some(invitation) = staff::invitation_by_token(&console.app.pool, &token).await? else {
        return expired(&console).await;
    };
    let mismatch = console.staff.as_ref().is_some_and(|s| s.email != invitation.email);
    let page = console
        .render(
            "console/invitation.html",
            minijinja::context! {
                invitation => Serde(&invitation), role => invitation.role.label(), mismatch,
                here => format!("/invitation/{token}"),
                oidc => console.app.config.console_oidc.as_ref().map(|c| c.label.clone()),
            },
        )
        .await?;
    Ok(page.into_response())
}

pub(crate) async fn expired(console: &Console) -> Result<Response> {
    let page = crate::kit::message(
        console,
        "Invitation invalide ou expirée",
        "Ce lien d'invitation n'est plus valable : il a expiré, il a déjà servi ou il a été annulé. Demandez une nouvelle invitation à l'administrateur·rice du portail.",
    )
    .await?;
    Ok((StatusCode::NOT_FOUND, page).into_response())
}

pub async fn accept(
    console: Console,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    let staff = console.staff()?.clone();
    join(&console, &staff, &token).await
}

/// `staff` (signed in, or just identified by the console's provider) joins the team the
/// invitation `token` is for.
pub(crate) async fn join(console: &Console, staff: &participe_core::staff::Staff, token: &str) -> Result<Response> {
    let Some(invitation) = staff::invitation_by_token(&console.app.pool, token).await? else {
        return expired(console).await;
    };
    if invitation.email != staff.email {
        return Err(Error::Forbidden);
    }
    let tenant = participe_core::fleet::registry::find_by_id(&console.app.pool, invitation.tenant_id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut tx = TenantTx::begin(&console.app.pool, &tenant).await?;
    let role = match staff::accept_invitation(&mut tx, invitation.id, staff).await {
        Ok(role) => role,
        // Accepted twice at once, or revoked meanwhile.
        Err(participe_core::Error::NotFound(_)) => return expired(console).await,
        Err(e) => return Err(e.into()),
    };
    participe_core::site::audit(
        &mut tx,
        staff.id,
        &staff.email,
        "equipe.arrivee",
        &staff.email,
        serde_json::json!({ "role": role }),
        console.ip.0,
    )
    .await?;
    tx.commit().await?;
    console
        .flash(format!("Vous avez rejoint l'équipe du portail {}.", tenant.name))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/", tenant.slug)).into_response())
}
