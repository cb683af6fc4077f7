//! Wall-clock times of events: typed by staff and read by citizens in French legal time
//! (Europe/Paris, summer time included), stored in UTC. The time zone database is bundled
//! (jiff's `tzdb-bundle-always`), so a container without tzdata converts the same way.

use std::sync::LazyLock;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use time::OffsetDateTime;

use super::Invalid;

static PARIS: LazyLock<TimeZone> =
    LazyLock::new(|| TimeZone::get("Europe/Paris").expect("Europe/Paris is in the bundled time zone database"));

const WEEKDAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
/// The months, as French writes them in dates.
pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// A time as a browser's `datetime-local` field sends it (`2026-12-03T18:30`, seconds
/// optional), read in Paris time. An hour skipped by the change to summer time is moved
/// forward, as a clock would.
pub fn parse_local(input: &str) -> Result<OffsetDateTime, Invalid> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Invalid::new("indiquez la date et l'heure"));
    }
    let civil: DateTime = input
        .parse()
        .map_err(|_| Invalid::new("date et heure attendues, par exemple 03/12/2026 18:30"))?;
    let zoned = civil
        .to_zoned(PARIS.clone())
        .map_err(|_| Invalid::new("cette date n'existe pas"))?;
    OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).map_err(|_| Invalid::new("date hors limites"))
}

struct Local {
    year: i16,
    month: usize,
    day: i8,
    weekday: usize,
    hour: i8,
    minute: i8,
}

fn local(t: OffsetDateTime) -> Option<Local> {
    let ts = jiff::Timestamp::from_second(t.unix_timestamp()).ok()?;
    let z = ts.to_zoned(PARIS.clone());
    Some(Local {
        year: z.year(),
        month: usize::try_from(z.month()).ok()?,
        day: z.day(),
        weekday: usize::try_from(z.weekday().to_monday_zero_offset()).ok()?,
        hour: z.hour(),
        minute: z.minute(),
    })
}

/// The value of a `datetime-local` field showing `t` in Paris time: `2026-12-03T18:30`.
pub fn to_local_input(t: OffsetDateTime) -> String {
    match local(t) {
        Some(l) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            l.year, l.month, l.day, l.hour, l.minute
        ),
        None => String::new(),
    }
}

/// `mardi 3 décembre 2026`, in Paris time.
pub fn day_fr(t: OffsetDateTime) -> String {
    match local(t) {
        Some(l) => {
            let day = if l.day == 1 {
                "1er".to_string()
            } else {
                l.day.to_string()
            };
            format!("{} {day} {} {}", WEEKDAYS[l.weekday], MONTHS[l.month - 1], l.year)
        }
        None => String::new(),
    }
}

/// `18 h 30` (or `18 h`), in Paris time, as French typography writes hours.
pub fn hour_fr(t: OffsetDateTime) -> String {
    match local(t) {
        Some(l) if l.minute == 0 => format!("{}\u{a0}h", l.hour),
        Some(l) => format!("{}\u{a0}h\u{a0}{:02}", l.hour, l.minute),
        None => String::new(),
    }
}

/// Whether two times fall on the same day in Paris.
pub fn same_day(a: OffsetDateTime, b: OffsetDateTime) -> bool {
    match (local(a), local(b)) {
        (Some(a), Some(b)) => (a.year, a.month, a.day) == (b.year, b.month, b.day),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn paris_time_follows_summer_time() {
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            parse_local("2026-12-03T18:30").unwrap(),
            datetime!(2026-12-03 17:30 UTC)
        );
        assert_eq!(
            parse_local("2026-07-14T10:00:00").unwrap(),
            datetime!(2026-07-14 08:00 UTC)
        );
        assert_eq!(to_local_input(datetime!(2026-07-14 08:00 UTC)), "2026-07-14T10:00");
        assert_eq!(day_fr(datetime!(2026-12-03 17:30 UTC)), "jeudi 3 décembre 2026");
        assert_eq!(hour_fr(datetime!(2026-12-03 17:30 UTC)), "18\u{a0}h\u{a0}30");
        assert_eq!(hour_fr(datetime!(2026-05-01 07:00 UTC)), "9\u{a0}h");
        assert_eq!(day_fr(datetime!(2026-05-01 07:00 UTC)), "vendredi 1er mai 2026");
        // 23:30 UTC on 31 December is already New Year's Day in Paris.
        assert!(!same_day(
            datetime!(2026-12-31 22:00 UTC),
            datetime!(2026-12-31 23:30 UTC)
        ));
    }

    #[test]
    fn what_is_not_a_time_is_said_so() {
        assert!(parse_local("").is_err());
        assert!(parse_local("03/12/2026").is_err());
        assert!(parse_local("2026-02-30T10:00").is_err());
    }
}
