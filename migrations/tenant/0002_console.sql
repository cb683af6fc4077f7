-- What the tenant console writes: an audit log of staff actions, and the versions of the
-- usage charter citizens accept.

create table staff_audit (
    id          bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    -- A snapshot of who acted: staff accounts live in the platform schema.
    staff_id    uuid,
    staff_email text not null,
    action      text not null,
    target      text not null default '',
    detail      jsonb not null default '{}',
    ip          inet
);

create index staff_audit_at_idx on staff_audit (at desc);

-- Each publication of a new charter version; citizens accept a version, and a new one asks
-- them to accept again before their next contribution.
create table charter_version (
    version      integer primary key check (version >= 1),
    title        text not null,
    body         text not null,
    published_at timestamptz not null default now(),
    published_by text not null
);
