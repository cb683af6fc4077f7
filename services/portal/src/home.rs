//! The portal's home page: the collectivité's welcome, the next events (« dates à
//! retenir »), the latest news, and the ways to take part.

use axum::response::Html;
use participe_web::Result;

use crate::Portal;

pub async fn show(portal: Portal) -> Result<Html<String>> {
    portal.cache_through(|| page(&portal)).await
}

async fn page(portal: &Portal) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let dates = crate::agenda::coming_up(&mut tx).await?;
    let news = crate::news::latest(&mut tx).await?;
    tx.commit().await?;
    portal
        .render(
            "portal/home.html",
            "/",
            minijinja::context! { dates, news => minijinja::value::Serde(news) },
        )
        .await
}
