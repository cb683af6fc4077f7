//! A dispositif's latest news.

use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::news;

use super::Surface;

pub static SURFACE: Surface = Surface {
    key: "actualites",
    template: "portal/components/news.html",
    section: |_, tx, space| {
        async move {
            let (posts, more) = news::list(tx, Some(space.d.id), 1).await?;
            if posts.is_empty() {
                return Ok(None);
            }
            let shown: Vec<_> = posts.iter().take(3).collect();
            Ok(Some(
                minijinja::context! { posts => Serde(shown), more => more || posts.len() > 3 },
            ))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
};
