-- Collectivité staff: accounts (one person may serve several tenants), their memberships,
-- invitations, one-time tokens, and the server-side sessions of every host.

alter table tenant
    add column population integer check (population >= 0),
    add column trial_ends_at timestamptz;

create table staff (
    id                 uuid primary key default gen_random_uuid(),
    email              text not null check (email = lower(email) and length(email) between 3 and 254),
    display_name       text not null check (length(display_name) between 1 and 120),
    password_hash      text not null,
    email_confirmed_at timestamptz,
    -- Base32 TOTP secret, set once the second factor is confirmed.
    totp_secret        text,
    totp_enabled_at    timestamptz,
    -- Last accepted TOTP time step: a code is accepted once.
    totp_last_step     bigint,
    -- Bumped when the password changes: sessions carrying an older value are ended.
    session_epoch      integer not null default 0,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint staff_email_key unique (email)
);

create trigger staff_updated_at before update on staff
    for each row execute function set_updated_at();

create table staff_token (
    -- SHA-256 of the token sent by mail; the token itself is never stored.
    token_hash bytea primary key,
    staff_id   uuid not null references staff (id) on delete cascade,
    purpose    text not null check (purpose in ('confirm', 'reset')),
    expires_at timestamptz not null,
    used_at    timestamptz,
    created_at timestamptz not null default now()
);

create index staff_token_staff_idx on staff_token (staff_id, purpose);

create table membership (
    staff_id   uuid not null references staff (id) on delete cascade,
    tenant_id  uuid not null references tenant (id) on delete cascade,
    role       text not null check (role in ('admin', 'editor', 'moderator')),
    created_at timestamptz not null default now(),
    primary key (staff_id, tenant_id)
);

create index membership_tenant_idx on membership (tenant_id);

create table invitation (
    id          uuid primary key default gen_random_uuid(),
    tenant_id   uuid not null references tenant (id) on delete cascade,
    email       text not null check (email = lower(email)),
    role        text not null check (role in ('admin', 'editor', 'moderator')),
    token_hash  bytea not null constraint invitation_token_key unique,
    invited_by  uuid references staff (id) on delete set null,
    expires_at  timestamptz not null,
    accepted_at timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz not null default now()
);

create index invitation_tenant_idx on invitation (tenant_id, created_at desc);

-- Platform-wide switches set by operators (e.g. require a second factor for admins).
create table platform_setting (
    key        text primary key,
    value      jsonb not null,
    updated_at timestamptz not null default now()
);

-- Server-side sessions (tower-sessions' layout). The data records the host the session was
-- created on; a session is refused on any other host.
create table web_session (
    id          text primary key not null,
    data        bytea not null,
    expiry_date timestamptz not null
);

create index web_session_expiry_idx on web_session (expiry_date);
