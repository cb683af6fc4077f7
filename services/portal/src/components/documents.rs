//! A dispositif's published documents, latest first, with a link to all of them.

use futures::FutureExt;
use participe_core::documents::{self, Filter};

use super::Surface;

pub static SURFACE: Surface = Surface {
    key: "documents",
    template: "portal/components/documents.html",
    section: |_, tx, space| {
        async move {
            let filter = Filter {
                dispositif: Some(space.d.id),
                ..Filter::default()
            };
            let (docs, more) = documents::list(tx, &filter, 1).await?;
            if docs.is_empty() {
                return Ok(None);
            }
            let rows: Vec<_> = docs.iter().take(5).map(crate::documents::row).collect();
            Ok(Some(minijinja::context! { rows, more => more || docs.len() > 5 }))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
};
