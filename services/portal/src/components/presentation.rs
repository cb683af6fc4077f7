//! The dispositif's description, first on its page.

use futures::FutureExt;

use super::Surface;

pub static SURFACE: Surface = Surface {
    key: "presentation",
    template: "portal/components/presentation.html",
    section: |_, _, space| {
        let description = space.d.description.clone();
        async move { Ok((!description.trim().is_empty()).then(|| minijinja::context! { description })) }.boxed()
    },
    routes: super::no_routes,
    paths: &[],
    shared: true,
};
