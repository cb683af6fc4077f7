//! `/statistiques`: the portal's audience statistics, when its staff chose to publish them.

use axum::response::Html;
use participe_web::{Error, Result};

use crate::Portal;

pub async fn show(portal: Portal) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    if !participe_core::site::settings(&mut tx).await?.stats_public {
        return Err(Error::NotFound);
    }
    let stats = participe_web::audience_page::context(&mut tx).await?;
    tx.commit().await?;
    portal.render("portal/audience.html", "", stats).await
}
