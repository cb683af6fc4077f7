-- Platform operators: accounts of their own (not staff), created from the command line,
-- always with a second factor. Their actions go to `platform_audit` with the actor
-- `operator:<email>`.

create table operator (
    id             uuid primary key default gen_random_uuid(),
    email          text not null constraint operator_email_key unique,
    display_name   text not null check (length(display_name) between 1 and 120),
    password_hash  text not null,
    -- Mandatory: an operator without a second factor cannot exist.
    totp_secret    text not null,
    totp_last_step bigint,
    -- Bumped when the password changes: every session signed in before ends.
    session_epoch  integer not null default 0,
    created_at     timestamptz not null default now()
);
