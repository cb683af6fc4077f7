-- Citizen participation: the tenant's citizen accounts, their contributions to calls,
-- comments with one level of replies, and reports feeding a-posteriori moderation.

create table citizen (
    id                 uuid primary key default gen_random_uuid(),
    email              text not null constraint citizen_email_key unique,
    display_name       text not null check (length(display_name) between 1 and 80),
    profile            text not null check (profile in ('citoyen', 'association', 'elu', 'collectivite')),
    password_hash      text not null,
    email_confirmed_at timestamptz,
    -- A new address waits here until its owner follows the link sent to it.
    pending_email      text,
    -- The charter version accepted last, and when; a newer version asks again.
    charter_version    integer references charter_version (version),
    charter_accepted_at timestamptz,
    -- A blocked citizen reads but cannot post.
    blocked_at         timestamptz,
    blocked_reason     text not null default '',
    -- Bumped when the password changes: every session signed in before ends.
    session_epoch      integer not null default 0,
    created_at         timestamptz not null default now()
);

create table citizen_token (
    token_hash bytea primary key,
    citizen_id uuid not null references citizen (id) on delete cascade,
    purpose    text not null check (purpose in ('confirm', 'reset', 'email')),
    expires_at timestamptz not null,
    used_at    timestamptz
);

create index citizen_token_citizen_idx on citizen_token (citizen_id);

-- Moderation state shared by contributions and comments:
--   publie  — visible;
--   masque  — hidden automatically at the tenant's threshold of reports, pending review;
--   modere  — hidden by a moderator, with a public reason;
--   supprime (comments only) — removed by its author, kept as a placeholder for replies.
create table contribution (
    id                uuid primary key default gen_random_uuid(),
    dispositif_id     uuid not null references dispositif (id) on delete cascade,
    theme_id          uuid references dispositif_theme (id) on delete set null,
    -- Null once the author deleted their account: shown as « Participant·e supprimé·e ».
    author_id         uuid references citizen (id) on delete set null,
    title             text not null check (length(title) between 1 and 200),
    body              text not null check (length(body) between 1 and 10000),
    state             text not null default 'publie' check (state in ('publie', 'masque', 'modere')),
    moderation_reason text not null default '',
    comment_count     integer not null default 0,
    created_at        timestamptz not null default now(),
    edited_at         timestamptz,
    -- When a moderator last looked at its reports: those before are settled.
    reviewed_at       timestamptz
);

create index contribution_newest_idx on contribution (dispositif_id, created_at desc, id);
create index contribution_commented_idx on contribution (dispositif_id, comment_count desc, created_at desc, id);
create index contribution_theme_idx on contribution (dispositif_id, theme_id, created_at desc);
create index contribution_author_idx on contribution (author_id);

create table comment (
    id                uuid primary key default gen_random_uuid(),
    contribution_id   uuid not null references contribution (id) on delete cascade,
    -- One level of replies: a reply's parent is a top-level comment (checked on insert).
    parent_id         uuid references comment (id) on delete cascade,
    author_id         uuid references citizen (id) on delete set null,
    body              text not null check (length(body) <= 5000),
    state             text not null default 'publie' check (state in ('publie', 'masque', 'modere', 'supprime')),
    moderation_reason text not null default '',
    created_at        timestamptz not null default now(),
    reviewed_at       timestamptz,
    constraint comment_body_present check (state = 'supprime' or length(body) >= 1)
);

create index comment_contribution_idx on comment (contribution_id, created_at, id);
-- Top-level comments of a contribution in order (the comments page), and replies by parent.
create index comment_top_level_idx on comment (contribution_id, created_at, id) where parent_id is null;
create index comment_parent_idx on comment (parent_id, created_at, id) where parent_id is not null;
create index comment_author_idx on comment (author_id);

create table report (
    id              bigint generated always as identity primary key,
    contribution_id uuid references contribution (id) on delete cascade,
    comment_id      uuid references comment (id) on delete cascade,
    reporter_id     uuid references citizen (id) on delete set null,
    reason          text not null check (reason in ('charte', 'spam', 'injurieux', 'hors_sujet', 'autre')),
    detail          text not null default '' check (length(detail) <= 1000),
    created_at      timestamptz not null default now(),
    -- Set when moderators were told of it (reports are mailed in batches).
    notified_at     timestamptz,
    -- Set when a moderator decided on the item.
    settled_at      timestamptz,
    constraint report_one_target check ((contribution_id is null) <> (comment_id is null)),
    constraint report_once_contribution unique (contribution_id, reporter_id),
    constraint report_once_comment unique (comment_id, reporter_id)
);

create index report_open_idx on report (created_at) where settled_at is null;
create index report_unnotified_idx on report (id) where notified_at is null;
create index report_reporter_idx on report (reporter_id);

-- The staff journal (moderation decisions included) is append-only: what was done stays
-- written, whoever did it.
create function staff_audit_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'staff_audit is append-only';
end $$;

create trigger staff_audit_append_only before update or delete on staff_audit
    for each statement execute function staff_audit_append_only();

-- What readers see changed: portals drop the pages they keep rendered for visitors
-- (`site::PageCache`). Statement-level, so a batch costs one notification.
create or replace function notify_content_change() returns trigger
language plpgsql as $$
begin
    perform pg_notify('participe_content', tg_table_schema);
    return null;
end
$$;

create trigger contribution_content after insert or update or delete on contribution
    for each statement execute function notify_content_change();
create trigger comment_content after insert or update or delete on comment
    for each statement execute function notify_content_change();
create trigger dispositif_content after insert or update or delete on dispositif
    for each statement execute function notify_content_change();
create trigger dispositif_theme_content after insert or update or delete on dispositif_theme
    for each statement execute function notify_content_change();
create trigger council_member_content after insert or update or delete on council_member
    for each statement execute function notify_content_change();
-- A citizen's name is shown beside what they wrote.
create trigger citizen_content after update of display_name, profile or delete on citizen
    for each statement execute function notify_content_change();
