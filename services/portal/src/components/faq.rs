//! Questions fréquentes: each answer under its question, unfolded by the browser.

use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::components::faq;

use super::Surface;

pub static SURFACE: Surface = Surface {
    key: "questions",
    template: "portal/components/faq.html",
    section: |_, tx, space| {
        async move {
            let questions = faq::list(tx, space.d.id).await?;
            Ok((!questions.is_empty()).then(|| minijinja::context! { questions => Serde(questions) }))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
    shared: true,
};
