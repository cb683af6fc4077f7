-- A tenant's own site: its branding and settings (one row) and its pages.

create or replace function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end
$$;

create table settings (
    -- Exactly one row per schema.
    singleton          boolean primary key default true check (singleton),
    display_name       text check (length(display_name) between 1 and 200),
    tagline            text not null default '',
    primary_colour     text not null default '#1d4f91' check (primary_colour ~ '^#[0-9a-f]{6}$'),
    secondary_colour   text not null default '#f3f6fb' check (secondary_colour ~ '^#[0-9a-f]{6}$'),
    logo_path          text,
    home_title         text not null default 'Écrire, réagir, partager pour construire ensemble',
    -- Markdown, rendered to sanitized HTML.
    home_text          text not null default '',
    -- [{"label": "...", "url": "..."}]
    footer_links       jsonb not null default '[]' check (jsonb_typeof(footer_links) = 'array'),
    sender_name        text,
    languages          text[] not null default '{fr}',
    stats_public       boolean not null default false,
    autohide_threshold integer not null default 3 check (autohide_threshold between 1 and 100),
    updated_at         timestamptz not null default now()
);

insert into settings default values;

create trigger settings_updated_at before update on settings
    for each row execute function set_updated_at();

create table page (
    id         uuid primary key default gen_random_uuid(),
    slug       text not null constraint page_slug_key unique
               check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    -- The legal pages every portal has, and free pages.
    kind       text not null check (kind in ('charte', 'mentions-legales', 'accessibilite', 'confidentialite', 'libre')),
    title      text not null check (length(title) between 1 and 200),
    -- Markdown, rendered to sanitized HTML.
    body       text not null default '',
    in_footer  boolean not null default false,
    position   integer not null default 0,
    published  boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create unique index page_one_per_legal_kind on page (kind) where kind <> 'libre';
create index page_footer_idx on page (position) where in_footer and published;

create trigger page_updated_at before update on page
    for each row execute function set_updated_at();

-- Replicas cache a portal's branding and footer pages; any change tells them to forget it.
create or replace function notify_site_change() returns trigger
language plpgsql as $$
begin
    perform pg_notify('participe_site', tg_table_schema);
    return null;
end
$$;

create trigger settings_notify after insert or update or delete on settings
    for each statement execute function notify_site_change();
create trigger page_notify after insert or update or delete on page
    for each statement execute function notify_site_change();
