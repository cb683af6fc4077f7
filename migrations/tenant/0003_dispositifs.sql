-- Dispositifs: the participatory spaces of a tenant (calls for contributions, councils,
-- presentations of a body), their themes and, for councils, their composition.

create table dispositif (
    id          uuid primary key default gen_random_uuid(),
    slug        text not null constraint dispositif_slug_key unique
                check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    kind        text not null check (kind in ('appel', 'conseil', 'presentation')),
    title       text not null check (length(title) between 1 and 200),
    summary     text not null default '' check (length(summary) <= 500),
    -- Markdown, rendered sanitized.
    description text not null default '',
    -- Calls for contributions: when contributions open and close (inclusive dates).
    opens_on    date,
    closes_on   date,
    -- Councils: internal rules, Markdown.
    rules       text not null default '',
    status      text not null default 'brouillon' check (status in ('brouillon', 'publie', 'archive')),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint dispositif_dates check (opens_on is null or closes_on is null or opens_on <= closes_on)
);

create index dispositif_status_idx on dispositif (status, opens_on);

create trigger dispositif_updated_at before update on dispositif
    for each row execute function set_updated_at();

create table dispositif_theme (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    name          text not null check (length(name) between 1 and 120),
    position      integer not null default 0,
    constraint dispositif_theme_name_key unique (dispositif_id, name)
);

create table council_member (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    name          text not null check (length(name) between 1 and 120),
    -- Président·e, vice-président·e, membre, secrétaire…
    role          text not null default '' check (length(role) <= 80),
    -- Élu·e, habitant·e, représentant·e d'association…
    quality       text not null default '' check (length(quality) <= 120),
    position      integer not null default 0
);

create index council_member_dispositif_idx on council_member (dispositif_id, position);
