//! Calls for contributions: the themes, the latest livret d'expression, and the
//! contributions (filtered, sorted, paginated); the contribution pages themselves live in
//! `crate::participation`.

use axum::Router;
use axum::routing::{get, post};
use futures::FutureExt;
use minijinja::value::Serde;
use participe_web::AppState;

use super::Surface;
use crate::participation::{self, ListQuery};

pub static SURFACE: Surface = Surface {
    key: "contributions",
    template: "portal/components/contributions.html",
    section: |portal, tx, space| {
        async move {
            let booklet = participe_core::booklets::latest_ready(tx, space.d.id).await?;
            let q = ListQuery::from_query(space.query);
            let call = participation::call_section(portal, tx, space.d, space.instance, &q).await?;
            Ok(Some(minijinja::context! { booklet => booklet.map(Serde), call }))
        }
        .boxed()
    },
    routes,
    paths: &[
        "/participer/{slug}/contribuer",
        "/participer/{slug}/contributions/{id}",
        "/participer/{slug}/contributions/{id}/modifier",
        "/participer/{slug}/contributions/{id}/suppression",
        "/participer/{slug}/contributions/{id}/commentaires",
        "/participer/{slug}/commentaires/{id}/suppression",
        "/participer/{slug}/livret/{format}",
        "/signaler/{kind}/{id}",
    ],
    shared: true,
};

fn routes(r: Router<AppState>) -> Router<AppState> {
    use participation as p;
    r.route("/participer/{slug}/contribuer", get(p::new_form).post(p::create))
        .route("/participer/{slug}/contributions/{id}", get(p::show))
        .route(
            "/participer/{slug}/contributions/{id}/modifier",
            get(p::edit_form).post(p::edit),
        )
        .route("/participer/{slug}/contributions/{id}/suppression", post(p::delete))
        .route("/participer/{slug}/contributions/{id}/commentaires", post(p::comment))
        .route(
            "/participer/{slug}/commentaires/{id}/suppression",
            post(p::delete_comment),
        )
        .route("/participer/{slug}/livret/{format}", get(p::booklet))
        .route("/signaler/{kind}/{id}", get(p::report_form).post(p::report))
}
