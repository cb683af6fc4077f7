//! A council's composition and its internal rules.

use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::dispositifs;

use super::Surface;

pub static SURFACE: Surface = Surface {
    key: "composition",
    template: "portal/components/composition.html",
    section: |_, tx, space| {
        async move {
            let members = dispositifs::members(tx, space.d.id).await?;
            Ok(Some(
                minijinja::context! { members => Serde(members), rules => space.d.rules.clone() },
            ))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
    shared: true,
};
