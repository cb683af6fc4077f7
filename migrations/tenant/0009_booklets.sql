-- The « livrets d'expression »: for a call for contributions, every published contribution
-- compiled by theme as PDF, CSV and JSON, made by a background job whose progress staff
-- follow; the latest finished one is offered on the portal.

create table booklet (
    id              uuid primary key default gen_random_uuid(),
    dispositif_id   uuid not null references dispositif (id) on delete cascade,
    status          text not null default 'attente' check (status in ('attente', 'en_cours', 'pret', 'echec')),
    -- Contributions compiled so far, out of how many.
    done            integer not null default 0,
    total           integer not null default 0,
    themes          integer not null default 0,
    pdf_key         text,
    csv_key         text,
    json_key        text,
    error           text,
    requested_by    text not null default '',
    created_at      timestamptz not null default now(),
    finished_at     timestamptz
);

create index booklet_dispositif_idx on booklet (dispositif_id, created_at desc);

create trigger booklet_content after insert or update or delete on booklet
    for each statement execute function notify_content_change();
