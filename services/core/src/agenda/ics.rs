//! iCalendar (RFC 5545) for the agenda: the feeds calendar apps subscribe to (a tenant's,
//! a dispositif's) and the `.ics` attached to registration mails. Times are written in UTC
//! (`…Z`), which every client shows in its own zone; ids are stable (`<event id>@<host>`)
//! so that a client updates an event rather than adding it twice, and a cancelled event
//! says so (`STATUS:CANCELLED`).

use icalendar::{Calendar, Component, EventLike, EventStatus};
use time::OffsetDateTime;

use super::Event;

fn utc(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
}

/// One calendar holding `events`. `origin` is the portal's (`https://nord.participe.fr`),
/// for each event's link and id.
pub fn calendar(name: &str, origin: &str, events: &[Event]) -> String {
    let host = origin.split("://").nth(1).unwrap_or(origin);
    let mut cal = Calendar::new();
    cal.name(name).timezone("Europe/Paris");
    for e in events {
        let mut event = icalendar::Event::new();
        let mut place = e.place.clone();
        if let Some(url) = &e.online_url {
            if !place.is_empty() {
                place.push_str(" — ");
            }
            place.push_str(url);
        }
        event
            .uid(&format!("{}@{host}", e.id))
            .summary(&e.title)
            .description(&plain(&e.description))
            .starts(utc(e.starts_at))
            .ends(utc(e.ends_at))
            .timestamp(utc(e.updated_at))
            .url(&format!("{origin}/agenda/{}", e.id))
            .status(if e.status == "annule" {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            });
        if !place.is_empty() {
            event.location(&place);
        }
        cal.push(event.done());
    }
    cal.done().to_string()
}

/// Markdown as calendar apps show descriptions: plain text, paragraphs kept.
fn plain(markdown: &str) -> String {
    use pulldown_cmark::{Event as Md, Parser, TagEnd};
    let mut out = String::new();
    for event in Parser::new(markdown) {
        match event {
            Md::Text(t) | Md::Code(t) => out.push_str(&t),
            Md::SoftBreak | Md::HardBreak => out.push(' '),
            Md::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => out.push('\n'),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_plain_text() {
        assert_eq!(
            plain("Un **atelier** ouvert à tous.\n\n- salle A\n- [plan](https://x.fr)"),
            "Un atelier ouvert à tous.\nsalle A\nplan"
        );
    }
}
