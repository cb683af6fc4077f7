//! A dispositif's published documents, latest first, with a link to all of them.

use futures::FutureExt;
use participe_core::documents;

use super::Surface;

const SHOWN: i64 = 5;

pub static SURFACE: Surface = Surface {
    key: "documents",
    template: "portal/components/documents.html",
    section: |_, tx, space| {
        async move {
            // One more than shown tells whether to link to the rest.
            let docs = documents::latest(tx, space.d.id, SHOWN + 1).await?;
            if docs.is_empty() {
                return Ok(None);
            }
            let more = docs.len() as i64 > SHOWN;
            let rows: Vec<_> = docs.iter().take(SHOWN as usize).map(crate::documents::row).collect();
            Ok(Some(minijinja::context! { rows, more }))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
    shared: true,
};
