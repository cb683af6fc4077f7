//! What every console page stands on: the session, the signed-in staff member if any, and
//! for pages under `/t/<slug>/`, the membership that lets them in. Also the rendering of a
//! page inside the console's frame (navigation, flash messages, the CSRF token for forms).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::Html;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::staff::{self, Membership, Role, Staff};
use participe_core::{Tenant, TenantTx};
use participe_mail::Mail;
use participe_web::client::ClientIp;
use participe_web::{AppState, Error, Result, csrf, session};
use tower_sessions::Session;
use uuid::Uuid;

pub const STAFF_KEY: &str = "staff_id";
pub const EPOCH_KEY: &str = "epoch";

/// A console request: session, host, client address, and who is signed in.
pub struct Console {
    pub app: AppState,
    pub session: Session,
    pub host: String,
    pub ip: ClientIp,
    pub staff: Option<Staff>,
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Error::Unexpected("console without session layer".into()))?;
        let host = session::request_host_of(parts);
        let ip = ClientIp::from_request_parts(parts, app).await?;
        let staff = signed_in_staff(app, &session).await?;
        Ok(Console {
            app: app.clone(),
            session,
            host,
            ip,
            staff,
        })
    }
}

/// The staff member whose sign-in this session holds, if it is still valid (the account
/// exists and its password has not changed since).
async fn signed_in_staff(app: &AppState, session: &Session) -> Result<Option<Staff>> {
    let Some(id) = session.get::<Uuid>(STAFF_KEY).await.map_err(session::session_error)? else {
        return Ok(None);
    };
    let epoch = session.get::<i32>(EPOCH_KEY).await.map_err(session::session_error)?;
    match staff::find(&app.pool, id).await? {
        Some(s) if Some(s.session_epoch) == epoch => Ok(Some(s)),
        _ => {
            session.flush().await.map_err(session::session_error)?;
            Ok(None)
        }
    }
}

impl Console {
    /// The signed-in staff member, or a trip to the sign-in page.
    pub fn staff(&self) -> Result<&Staff> {
        self.staff.as_ref().ok_or_else(|| Error::Redirect("/connexion".into()))
    }

    /// Starts the session of a staff member who proved who they are: a new session id
    /// (no fixation), bound to this host.
    pub async fn sign_in(&self, staff: &Staff) -> Result<()> {
        self.session.cycle_id().await.map_err(session::session_error)?;
        session::bind(&self.session, &self.host).await?;
        self.session
            .insert(STAFF_KEY, staff.id)
            .await
            .map_err(session::session_error)?;
        self.session
            .insert(EPOCH_KEY, staff.session_epoch)
            .await
            .map_err(session::session_error)?;
        Ok(())
    }

    pub async fn flash(&self, message: impl Into<String>) -> Result<()> {
        session::flash(&self.session, message).await
    }

    /// An absolute link into the console, for mails.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.app.config.console_origin())
    }

    /// Sends a mail without making the request wait for it: the response must not take
    /// longer when an account exists than when it does not.
    pub fn send_later(&self, mail: Mail) {
        self.app.queue_mail(None, mail);
    }

    pub fn render_mail(&self, template: &str, ctx: Value) -> Result<String> {
        Ok(self.app.templates.render(template, ctx)?.0)
    }

    /// Renders a console page. `tenant` adds the navigation of that tenant's pages, `current`
    /// marks where the page sits in it.
    pub async fn render(&self, template: &str, page: Value) -> Result<Html<String>> {
        self.render_in(template, None, "", page).await
    }

    pub async fn render_in(
        &self,
        template: &str,
        tenant: Option<&Membership>,
        current: &str,
        page: Value,
    ) -> Result<Html<String>> {
        let csrf = csrf::token(&self.session, &self.host).await?;
        let flashes = session::take_flash(&self.session).await?;
        let nav: Vec<Value> = tenant
            .map(|m| {
                tenant_nav(m.role)
                    .into_iter()
                    .map(|(path, label)| {
                        let href = format!("/t/{}/{path}", m.tenant.slug);
                        minijinja::context! { href, label, current => path == current }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let frame = minijinja::context! {
            lang => "fr",
            site_name => "Participe — console des collectivités",
            home => "/",
            csrf,
            flashes,
            staff => self.staff.as_ref().map(Serde),
            membership => tenant.map(Serde),
            portal_url => tenant.map(|m| self.app.config.tenant_origin(&m.tenant)),
            nav,
        };
        self.app
            .templates
            .render(template, minijinja::context! { ..page, ..frame })
    }
}

/// The tenant pages a role sees: (path under /t/<slug>/, label).
fn tenant_nav(role: Role) -> Vec<(&'static str, &'static str)> {
    let mut nav = vec![("", "Tableau de bord")];
    if role.can_edit_content() {
        nav.push(("dispositifs", "Dispositifs"));
        nav.extend(participe_core::components::navigation().map(|n| (n.console, n.label)));
        nav.push(("statistiques", "Statistiques"));
        nav.push(("pages", "Pages"));
        nav.push(("apparence", "Apparence"));
        nav.push(("communes", "Communes du territoire"));
    }
    if role.can_moderate() {
        nav.push(("moderation", "Modération"));
        nav.push(("participants", "Participants"));
    }
    if role == Role::Admin {
        nav.push(("equipe", "Équipe"));
        nav.push(("domaines", "Domaines"));
        nav.push(("connexion-citoyens", "Connexion des citoyens"));
        nav.push(("parametres", "Paramètres"));
        nav.push(("abonnement", "Abonnement"));
    }
    nav.push(("journal", "Journal"));
    nav
}

/// A console request under `/t/<slug>/`, by a signed-in member of that tenant.
pub struct InTenant {
    pub console: Console,
    pub membership: Membership,
}

impl FromRequestParts<AppState> for InTenant {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        let console = Console::from_request_parts(parts, app).await?;
        let staff = console.staff()?.clone();
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|_| Error::NotFound)?;
        let slug = params.get("slug").ok_or(Error::NotFound)?;
        // A tenant the staff member does not belong to is, for them, a tenant that does not
        // exist: the same 404 whether or not it does.
        let membership = staff::membership(&app.pool, staff.id, slug)
            .await?
            .ok_or(Error::NotFound)?;
        if membership.role == Role::Admin && !staff.totp_enabled && staff::admins_need_totp(&app.pool).await? {
            console
                .flash("La plateforme demande aux administrateur·rices d'activer la double authentification avant d'accéder à leur portail.")
                .await?;
            return Err(Error::Redirect("/compte".into()));
        }
        Ok(InTenant { console, membership })
    }
}

impl InTenant {
    pub fn tenant(&self) -> &Tenant {
        &self.membership.tenant
    }

    pub fn staff(&self) -> &Staff {
        self.console
            .staff
            .as_ref()
            .expect("InTenant requires a signed-in staff member")
    }

    /// Refuses the page to roles that may not use it.
    pub fn require(&self, allowed: fn(Role) -> bool) -> Result<()> {
        if allowed(self.membership.role) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    pub async fn begin(&self) -> Result<TenantTx> {
        Ok(TenantTx::begin(&self.console.app.pool, self.tenant()).await?)
    }

    /// Records a staff action in the tenant's audit log, inside the caller's transaction.
    pub async fn audit(&self, tx: &mut TenantTx, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
        let staff = self.staff();
        participe_core::site::audit(tx, staff.id, &staff.email, action, target, detail, self.console.ip.0).await?;
        Ok(())
    }

    pub async fn render(&self, template: &str, current: &str, page: Value) -> Result<Html<String>> {
        self.console
            .render_in(template, Some(&self.membership), current, page)
            .await
    }
}
