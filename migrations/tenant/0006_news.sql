-- News (actualités): posts with a cover image, linked to a dispositif or not, published at
-- a date that may be in the future (scheduled).

create table news (
    id             uuid primary key default gen_random_uuid(),
    title          text not null check (length(title) between 1 and 200),
    summary        text not null default '' check (length(summary) <= 500),
    -- Markdown, rendered sanitized.
    body           text not null default '',
    -- Storage key of the cover image (content-checked at upload) and its text alternative.
    cover_key      text,
    cover_alt      text not null default '' check (length(cover_alt) <= 300),
    dispositif_id  uuid references dispositif (id) on delete set null,
    -- Null: a draft. In the future: scheduled, shown from then on.
    published_at   timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

create index news_published_idx on news (published_at desc, id) where published_at is not null;
create index news_dispositif_idx on news (dispositif_id, published_at desc);

create trigger news_updated_at before update on news
    for each row execute function set_updated_at();
create trigger news_content after insert or update or delete on news
    for each statement execute function notify_content_change();
