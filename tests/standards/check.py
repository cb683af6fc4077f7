"""Checks what Participe publishes with the parsers feed readers and calendar apps use.

    python tests/standards/check.py atom FILE   # feedparser: well-formed, no bozo, dated
    python tests/standards/check.py ics FILE    # icalendar: parses, has a component, RFC rules

Prints one line per problem and exits 1 when there is any, 0 otherwise. Run with the
venv scripts/install-test-deps makes (target/test-venv).
"""

import sys


def check_atom(data):
    import feedparser

    feed = feedparser.parse(data)
    problems = []
    if feed.bozo:
        problems.append(f"feedparser: {feed.bozo_exception}")
    if feed.version != "atom10":
        problems.append(f"not Atom 1.0: {feed.version!r}")
    updated = feed.feed.get("updated_parsed")
    if not updated or updated.tm_year < 2000:
        problems.append(f"feed updated {feed.feed.get('updated')!r}")
    for entry in feed.entries:
        for key in ("id", "title", "updated", "link"):
            if not entry.get(key):
                problems.append(f"entry without {key}: {entry.get('id')!r}")
        for content in entry.get("content", []):
            if 'href="/' in content.value and not content.get("base"):
                problems.append(f"relative link without xml:base in {entry.get('id')!r}")
    return problems


def check_ics(data):
    import icalendar

    problems = []
    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as e:  # the parser's own message is the finding
        return [f"icalendar: {e}"]
    for prop in ("VERSION", "PRODID"):
        if prop not in cal:
            problems.append(f"no {prop}")
    if str(cal.get("PRODID", "")).startswith("ICALENDAR-RS"):
        problems.append("PRODID is the library's, not ours")
    if not cal.subcomponents:
        problems.append("no component (RFC 5545 wants at least one)")
    for event in cal.walk("VEVENT"):
        for prop in ("UID", "DTSTAMP", "DTSTART"):
            if prop not in event:
                problems.append(f"event without {prop}")
        uid = str(event.get("UID", ""))
        if ":" in uid.split("@")[-1]:
            problems.append(f"UID names a port: {uid}")
    for line in data.decode("utf-8").split("\r\n"):
        if len(line.encode("utf-8")) > 75:
            problems.append(f"line longer than 75 octets: {line[:40]}…")
    return problems


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("atom", "ics"):
        print("usage: check.py atom|ics FILE", file=sys.stderr)
        return 2
    with open(sys.argv[2], "rb") as f:
        data = f.read()
    problems = check_atom(data) if sys.argv[1] == "atom" else check_ics(data)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
