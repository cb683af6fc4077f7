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

/// The zone the calendar names (`X-WR-TIMEZONE`), as a component of its own: RFC 5545 wants
/// at least one component in a calendar, and a feed with no event yet must still be one
/// that every client accepts. Times themselves are in UTC.
const PARIS: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n\
BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
END:VTIMEZONE\r\n";

/// One calendar holding `events`. `origin` is the portal's (`https://nord.participe.fr`),
/// for each event's link and id. `METHOD:PUBLISH` as RFC 6047 wants of the `.ics` sent by
/// mail (`method=PUBLISH` in its type); feeds may carry it too.
pub fn calendar(name: &str, origin: &str, events: &[Event]) -> String {
    let authority = origin.split("://").nth(1).unwrap_or(origin);
    // Ids name the host, not the port a test or a proxy happened to use.
    let host = authority.split(':').next().unwrap_or(authority);
    let mut cal = Calendar::empty();
    cal.append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//Participe//Agenda//FR"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"));
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
    let text = cal.done().to_string();
    match text.rfind("END:VCALENDAR") {
        Some(end) => format!("{}{PARIS}{}", &text[..end], &text[end..]),
        None => text,
    }
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
    fn an_empty_calendar_still_holds_a_component_and_says_who_made_it() {
        let text = calendar("Agenda", "http://nord.localhost:8080", &[]);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
        assert!(text.contains("PRODID:-//Participe//Agenda//FR\r\n"), "{text}");
        assert!(text.contains("METHOD:PUBLISH\r\n"), "{text}");
        assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"), "{text}");
        assert!(text.ends_with("END:VTIMEZONE\r\nEND:VCALENDAR\r\n"), "{text}");
    }

    #[test]
    fn markdown_becomes_plain_text() {
        assert_eq!(
            plain("Un **atelier** ouvert à tous.\n\n- salle A\n- [plan](https://x.fr)"),
            "Un atelier ouvert à tous.\nsalle A\nplan"
        );
    }
}
