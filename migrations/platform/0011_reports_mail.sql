-- Whether a moderator gets the mail about new reports (tenant-admin::moderation_mail), and
-- the capability their mail's one-click unsubscribe link carries (RFC 8058): it can only
-- stop or restart that one mail for that one membership, so it is kept as it is sent.
alter table membership
    add column reports_mail boolean not null default true,
    add column unsubscribe_token uuid not null default gen_random_uuid();
create unique index membership_unsubscribe_token_idx on membership (unsubscribe_token);
