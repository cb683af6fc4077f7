-- The durable job queue: mails, moderation digests, and later exports and booklets. A
-- worker claims a due job with `for update skip locked` and keeps the row locked while it
-- runs, so a worker that dies releases it at once and another picks it up. Each job names
-- its tenant; the worker opens that tenant's TenantTx for it.

create table job (
    id           bigint generated always as identity primary key,
    tenant_id    uuid references tenant (id) on delete cascade,
    kind         text not null check (kind ~ '^[a-z_]{1,40}$'),
    payload      jsonb not null default '{}',
    state        text not null default 'pending' check (state in ('pending', 'done', 'failed')),
    attempts     integer not null default 0,
    max_attempts integer not null default 6 check (max_attempts between 1 and 100),
    run_at       timestamptz not null default now(),
    last_error   text,
    created_at   timestamptz not null default now(),
    finished_at  timestamptz
);

create index job_due_idx on job (run_at, id) where state = 'pending';
create index job_failed_idx on job (id desc) where state = 'failed';
create index job_done_idx on job (finished_at) where state = 'done';

-- Jobs that must exist at most once while pending (one moderation digest per tenant: the
-- reports that follow the first join the same mail).
create unique index job_once_idx on job (kind, tenant_id) where state = 'pending' and kind = 'moderation_digest';

-- Wakes idle workers as soon as a job is queued.
create function notify_job() returns trigger language plpgsql as $$
begin
    perform pg_notify('participe_job', new.kind);
    return null;
end $$;

create trigger job_queued after insert on job for each row execute function notify_job();
