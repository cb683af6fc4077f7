-- What the operators' console needs beyond the registry: each tenant's traffic, the plan
-- and paid-until date operators set by hand when billing is manual, and the exports they
-- start from the console.

-- Requests served by a tenant's portal, per hour. Each process counts in memory and adds
-- its counts here about once a minute (`core::traffic`), so several processes add up.
-- Latency is kept as counts per bucket (upper bounds in `core::traffic::BUCKETS_MS`), from
-- which percentiles are read across hours and processes.
create table tenant_traffic (
    tenant_id       uuid not null references tenant (id) on delete cascade,
    hour            timestamptz not null check (hour = date_trunc('hour', hour)),
    requests        bigint not null check (requests >= 0),
    -- Responses with a 5xx status: the platform's failures, not the visitors' mistakes.
    errors          bigint not null check (errors between 0 and requests),
    latency         bigint[] not null,
    last_request_at timestamptz not null,
    primary key (tenant_id, hour)
);

-- The slowest tenants of the last day, and pruning, read by hour.
create index tenant_traffic_hour_idx on tenant_traffic (hour);

-- Manual billing: operators set the plan (a population stratum) and the date up to which
-- the tenant has paid. The billing issue adds Stripe's state beside these.
alter table tenant add column paid_until date;

-- Exports started from the ops console. The worker writes the archive to the storage under
-- `exports/<tenant id>/<id>.tar.gz`; operators download it from the tenant's page.
create table tenant_export (
    id           bigint generated always as identity primary key,
    tenant_id    uuid not null references tenant (id) on delete cascade,
    requested_by text not null,
    state        text not null default 'pending' check (state in ('pending', 'done', 'failed')),
    storage_key  text,
    bytes        bigint,
    error        text,
    created_at   timestamptz not null default now(),
    finished_at  timestamptz,
    check ((state = 'done') = (storage_key is not null))
);

create index tenant_export_tenant_idx on tenant_export (tenant_id, id desc);
