-- Tenants whose moderators have reports to hear about. A report schedules its tenant here
-- (once, however many reports follow); when `due_at` passes, one mail per moderator lists
-- every report not notified yet. The job queue of the operator issue may take this over.

create table moderation_notice (
    tenant_id uuid primary key references tenant (id) on delete cascade,
    due_at    timestamptz not null
);

create index moderation_notice_due_idx on moderation_notice (due_at);
