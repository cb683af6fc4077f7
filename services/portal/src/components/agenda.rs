//! A dispositif's meetings: coming ones, and past ones when staff chose it (a council's
//! sittings, with their documents on each event's page).

use futures::FutureExt;
use participe_core::agenda::When;
use participe_core::components::agenda::{PAST, TITLE};

use super::Surface;

pub static SURFACE: Surface = Surface {
    key: "agenda",
    template: "portal/components/agenda.html",
    section: |_, tx, space| {
        async move {
            let settings = &space.instance.settings;
            let past = settings.bool(PAST);
            let coming = crate::agenda::rows(tx, When::Coming, space.d.id).await?;
            let past_events = if past {
                crate::agenda::rows(tx, When::Past, space.d.id).await?
            } else {
                vec![]
            };
            // Without past sittings to show, an empty list says nothing worth a heading.
            if coming.is_empty() && !past {
                return Ok(None);
            }
            Ok(Some(minijinja::context! {
                title => settings.text(TITLE).to_string(), coming, past => past_events, always => past,
            }))
        }
        .boxed()
    },
    routes: super::no_routes,
    paths: &[],
    shared: true,
};
