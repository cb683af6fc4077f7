-- Signing in through OpenID Connect providers (FranceConnect, any provider staff configure).
-- The client secret is stored sealed (AES-256-GCM under a key derived from the platform's
-- PARTICIPE_SECRET_KEY, bound to this tenant and provider): a database dump alone does not
-- give it away, and a sealed value copied to another tenant or provider does not open.

create table identity_provider (
    id            uuid primary key,
    kind          text not null check (kind in ('franceconnect', 'oidc')),
    label         text not null check (length(label) between 1 and 60),
    -- Null for FranceConnect: the platform knows its address (production or integration).
    issuer        text check (issuer is null or length(issuer) between 8 and 500),
    client_id     text not null check (length(client_id) between 1 and 500),
    client_secret bytea not null,
    -- Scopes besides `openid`, separated by spaces.
    scopes        text not null default '',
    enabled       boolean not null default true,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    check ((kind = 'franceconnect') = (issuer is null))
);

-- One FranceConnect per portal.
create unique index identity_provider_franceconnect_idx on identity_provider (kind) where kind = 'franceconnect';

-- Which provider identity (`sub`) belongs to which citizen.
create table citizen_identity (
    provider_id uuid not null references identity_provider (id) on delete cascade,
    subject     text not null check (length(subject) between 1 and 255),
    citizen_id  uuid not null references citizen (id) on delete cascade,
    created_at  timestamptz not null default now(),
    primary key (provider_id, subject),
    constraint citizen_identity_one_per_provider unique (citizen_id, provider_id)
);

-- An account created or linked through a provider that vouched for the person: what votes
-- will ask for. Accounts created this way have no password (an empty password_hash never
-- verifies) until their owner sets one.
alter table citizen add column identity_verified_at timestamptz;

-- A sign-up through a provider that did not vouch for the address: the identity is linked
-- only once the confirmation link sent to that address is followed (whoever typed someone
-- else's address gets nothing from it).
alter table citizen_token
    add column provider_id uuid references identity_provider (id) on delete cascade,
    add column subject text check (subject is null or length(subject) between 1 and 255);
