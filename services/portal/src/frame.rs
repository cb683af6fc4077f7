//! What every portal page stands on: the tenant the host resolved to, a `TenantTx` on its
//! schema, and its branding, loaded together by one extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Html;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::site::{self, Branding};
use participe_core::tenancy::resolver::Site;
use participe_core::{Tenant, TenantTx};
use participe_web::{AppState, Error, Result};

/// The sections of the portal's main navigation, in order: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/", "Accueil"),
    ("/participer", "Participer"),
    ("/agenda", "Agenda"),
    ("/actualites", "Actualités"),
    ("/documents", "Documents"),
];

pub struct Portal {
    pub tenant: Arc<Tenant>,
    pub tx: TenantTx,
    pub branding: Branding,
    app: AppState,
}

impl FromRequestParts<AppState> for Portal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        // Only the dispatcher sends requests here, always with the tenant it resolved.
        let Some(Site::Portal(tenant)) = parts.extensions.get::<Site>() else {
            return Err(Error::NotFound);
        };
        let tenant = tenant.clone();
        let mut tx = TenantTx::begin(&app.pool, &tenant).await?;
        let branding = site::branding(&mut tx).await?;
        Ok(Portal {
            tenant,
            tx,
            branding,
            app: app.clone(),
        })
    }
}

impl Portal {
    /// The name shown to citizens: the display name staff chose, else the registry name.
    pub fn site_name(&self) -> &str {
        self.branding.display_name.as_deref().unwrap_or(&self.tenant.name)
    }

    /// Ends the transaction and renders `template` inside the portal frame. `current` is
    /// the navigation entry to mark as the current page.
    pub async fn render(self, template: &str, current: &str, page: Value) -> Result<Html<String>> {
        let site_name = self.site_name().to_string();
        let initials: String = site_name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .filter_map(|w| w.chars().next())
            .take(3)
            .collect();
        let Portal {
            tenant,
            tx,
            branding,
            app,
        } = self;
        tx.commit().await?;
        let nav: Vec<Value> = NAV
            .iter()
            .map(|(path, label)| minijinja::context! { path => *path, label => *label, current => *path == current })
            .collect();
        let frame = minijinja::context! {
            lang => "fr",
            site_name,
            initials,
            home => "/",
            tenant => Serde(tenant.as_ref()),
            branding => Serde(branding),
            nav,
        };
        app.templates.render(template, minijinja::context! { ..page, ..frame })
    }
}
