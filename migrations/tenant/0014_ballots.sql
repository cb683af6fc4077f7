-- Ballots people can trust (services/core/src/ballots.rs), shared by the participatory
-- budget and the votes: who has voted (the roll) and what was voted (the box) are two
-- tables written in one transaction, with nothing that joins them — no voter, no time, no
-- sequence on a ballot; its id and its receipt are random. CNIL délibération 2019-053,
-- first level. Both keep their rows when an account is deleted: a ballot counts, and its
-- voter cannot vote a second time.

create table ballot_roll (
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    -- A SHA-256 of the voter's identity (their verified identity when the vote asks for
    -- one, else their account), never the account's id itself.
    voter         bytea not null check (length(voter) = 32),
    -- Online, or on paper at a desk (staff mark the roll so nobody votes twice).
    channel       text not null check (channel in ('en_ligne', 'papier')),
    primary key (dispositif_id, voter)
);

create table ballot (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    -- Given to the voter, published with the ballot after the close.
    receipt       text not null unique check (receipt ~ '^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$'),
    channel       text not null check (channel in ('en_ligne', 'papier'))
);

create index ballot_dispositif_idx on ballot (dispositif_id, receipt);

-- A ballot's choices: a budget project or a vote's option, with its points (1 for a
-- knapsack or approval basket, a vote's answer).
create table ballot_choice (
    ballot_id uuid not null references ballot (id) on delete cascade,
    item      uuid not null,
    weight    integer not null check (weight between 1 and 1000),
    primary key (ballot_id, item)
);

create index ballot_choice_item_idx on ballot_choice (item);

-- A participatory budget's envelopes (one, or one per quartier / commune / canton), in
-- whole euros.
create table budget_envelope (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    name          text not null check (length(name) between 1 and 120),
    amount        bigint not null check (amount > 0 and amount <= 10000000000),
    position      integer not null default 0,
    unique (dispositif_id, name)
);

-- A project on the ballot, with its costed amount (euros) and the envelope it draws on.
create table budget_project (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    envelope_id   uuid not null references budget_envelope (id) on delete cascade,
    title         text not null check (length(title) between 1 and 200),
    description   text not null default '' check (length(description) <= 20000),
    cost          bigint not null check (cost > 0 and cost <= 10000000000),
    created_at    timestamptz not null default now()
);

create index budget_project_dispositif_idx on budget_project (dispositif_id, envelope_id);

create trigger budget_envelope_content after insert or update or delete on budget_envelope
    for each statement execute function notify_content_change();
create trigger budget_project_content after insert or update or delete on budget_project
    for each statement execute function notify_content_change();
