-- The agenda: participatory meetings (réunions, ateliers, restitutions, council sittings)
-- and online registration, with a capacity, a waiting list, and links by mail to confirm
-- (visitors) or cancel (everyone).

create table event (
    id                      uuid primary key default gen_random_uuid(),
    kind                    text not null check (kind in ('reunion', 'atelier', 'restitution', 'seance')),
    title                   text not null check (length(title) between 1 and 200),
    -- Markdown, rendered sanitized.
    description             text not null default '',
    starts_at               timestamptz not null,
    ends_at                 timestamptz not null,
    -- A postal address and/or a link to join online.
    place                   text not null default '' check (length(place) <= 300),
    online_url              text check (online_url ~ '^https?://' and length(online_url) <= 500),
    dispositif_id           uuid references dispositif (id) on delete set null,
    -- Registration: off, or on with an optional capacity (null: no limit) and window
    -- (null opening: at once; null closing: when the event starts).
    registration            boolean not null default false,
    capacity                integer check (capacity between 1 and 100000),
    registration_opens_at   timestamptz,
    registration_closes_at  timestamptz,
    status                  text not null default 'publie' check (status in ('brouillon', 'publie', 'annule')),
    cancel_reason           text not null default '' check (length(cancel_reason) <= 500),
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    constraint event_dates check (starts_at <= ends_at),
    constraint event_place check (place <> '' or online_url is not null),
    constraint event_registration_window
        check (registration_opens_at is null or registration_closes_at is null
               or registration_opens_at < registration_closes_at)
);

create index event_agenda_idx on event (status, starts_at);
create index event_dispositif_idx on event (dispositif_id, starts_at);

create trigger event_updated_at before update on event
    for each row execute function set_updated_at();

-- One row per person and event. `attente` waits for a visitor to confirm their address;
-- `inscrit` holds a seat; `liste` waits for one, in order of `queued_at`; `annule` is kept
-- for the record (and for the registrant list's history).
create table event_registration (
    id            uuid primary key default gen_random_uuid(),
    event_id      uuid not null references event (id) on delete cascade,
    citizen_id    uuid references citizen (id) on delete set null,
    name          text not null check (length(name) between 1 and 120),
    email         text not null check (length(email) <= 254),
    status        text not null check (status in ('attente', 'inscrit', 'liste', 'annule')),
    -- SHA-256 of the link token mailed to the registrant (confirm, cancel).
    token_hash    bytea not null constraint event_registration_token_key unique,
    created_at    timestamptz not null default now(),
    queued_at     timestamptz,
    confirmed_at  timestamptz,
    cancelled_at  timestamptz
);

-- One live registration per address and event.
create unique index event_registration_once on event_registration (event_id, lower(email))
    where status <> 'annule';
create index event_registration_event_idx on event_registration (event_id, status, queued_at);
create index event_registration_citizen_idx on event_registration (citizen_id) where citizen_id is not null;

-- Visitors' cached pages show events and the seats left.
create trigger event_content after insert or update or delete on event
    for each statement execute function notify_content_change();
create trigger event_registration_content after insert or update or delete on event_registration
    for each statement execute function notify_content_change();
