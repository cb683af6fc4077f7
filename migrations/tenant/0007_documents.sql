-- The document library: minutes, agendas, productions and rules of the dispositifs, as
-- files (PDF, ODT, DOCX, XLSX, images: checked by content at upload) in the storage.

create table document (
    id             uuid primary key default gen_random_uuid(),
    title          text not null check (length(title) between 1 and 200),
    description    text not null default '' check (length(description) <= 1000),
    category       text not null check (category in ('compte_rendu', 'ordre_du_jour', 'production', 'reglement', 'autre')),
    -- The date of what the document records (a meeting's), not of the upload.
    document_date  date not null,
    dispositif_id  uuid references dispositif (id) on delete set null,
    event_id       uuid references event (id) on delete set null,
    file_key       text not null,
    -- The name it is downloaded under, and what it is (from its bytes, not its name).
    file_name      text not null check (length(file_name) between 1 and 200),
    content_type   text not null,
    size_bytes     bigint not null check (size_bytes > 0),
    published      boolean not null default true,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

create index document_list_idx on document (published, document_date desc);
create index document_dispositif_idx on document (dispositif_id, document_date desc);
create index document_event_idx on document (event_id) where event_id is not null;

create trigger document_updated_at before update on document
    for each row execute function set_updated_at();
create trigger document_content after insert or update or delete on document
    for each statement execute function notify_content_change();
