//! A dispositif's latest news.

use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::news;

use super::Surface;

const SHOWN: i64 = 3;

pub static SURFACE: Surface = Surface {
    key: "actualites",
    template: "portal/components/news.html",
    section: |_, tx, space| {
        async move {
            // One more than shown tells whether to link to the rest.
            let mut posts = news::latest(tx, Some(space.d.id), SHOWN + 1).await?;
            if posts.is_empty() {
                return Ok(None);
            }
            let more = posts.len() as i64 > SHOWN;
            posts.truncate(SHOWN as usize);
            Ok(Some(minijinja::context! { posts => Serde(posts), more }))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
    shared: true,
};
