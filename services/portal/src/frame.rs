//! What every portal page stands on: the tenant the host resolved to and its branding
//! (cached), with a `TenantTx` opened only by the handlers that read the tenant's tables.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Html;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::site::Branding;
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
    pub branding: Arc<Branding>,
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
        let branding = app.branding.get(&app.pool, &tenant).await?;
        Ok(Portal {
            tenant,
            branding,
            app: app.clone(),
        })
    }
}

impl Portal {
    /// A transaction on this tenant's schema, for handlers that read or write its tables.
    pub async fn begin(&self) -> Result<TenantTx> {
        Ok(TenantTx::begin(&self.app.pool, &self.tenant).await?)
    }

    /// The name shown to citizens: the display name staff chose, else the registry name.
    pub fn site_name(&self) -> &str {
        self.branding.display_name.as_deref().unwrap_or(&self.tenant.name)
    }

    /// Renders `template` inside the portal frame. `current` is the navigation entry to
    /// mark as the current page.
    pub fn render(&self, template: &str, current: &str, page: Value) -> Result<Html<String>> {
        let site_name = self.site_name();
        let initials: String = site_name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .filter_map(|w| w.chars().next())
            .take(3)
            .collect();
        let nav: Vec<Value> = NAV
            .iter()
            .map(|(path, label)| minijinja::context! { path => *path, label => *label, current => *path == current })
            .collect();
        let frame = minijinja::context! {
            lang => "fr",
            site_name,
            initials,
            home => "/",
            tenant => Serde(self.tenant.as_ref()),
            branding => Serde(self.branding.as_ref()),
            nav,
        };
        self.app
            .templates
            .render(template, minijinja::context! { ..page, ..frame })
    }
}
