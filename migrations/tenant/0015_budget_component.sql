-- The participatory budget as a component (services/core/src/components/budget.rs): a kind
-- of dispositif of its own, projects that citizens submit and staff review before they go
-- to the vote, and the results staff may override with a public reason.

alter table dispositif drop constraint dispositif_kind_check;
alter table dispositif add constraint dispositif_kind_check
    check (kind in ('appel', 'conseil', 'presentation', 'budget'));

-- A project's way to the ballot: submitted by a citizen (or added by staff), reviewed
-- (feasible or not, with a public explanation and a costed amount), published. Only
-- published feasible projects that were not merged into another are on the ballot.
-- Projects that existed before keep their place on the ballot.
alter table budget_project
    add column place          text not null default '' check (length(place) <= 200),
    -- What the citizen estimated; `cost` is the amount staff costed (the estimate until then).
    add column estimated_cost bigint check (estimated_cost is null or estimated_cost > 0),
    add column feasibility    text check (feasibility in ('faisable', 'non_faisable')),
    add column explanation    text not null default '' check (length(explanation) <= 5000),
    add column published      boolean not null default true,
    add column merged_into    uuid references budget_project (id) on delete set null,
    add check (merged_into is distinct from id);

update budget_project set feasibility = 'faisable' where feasibility is null;

-- Who wrote a project; a merge of duplicates keeps every author on the project that stays.
create table budget_project_author (
    project_id uuid not null references budget_project (id) on delete cascade,
    citizen_id uuid not null references citizen (id) on delete cascade,
    primary key (project_id, citizen_id)
);

create index budget_project_author_citizen_idx on budget_project_author (citizen_id);

-- Staff overriding a computed result, always with the reason shown on the results page.
create table budget_override (
    project_id uuid primary key references budget_project (id) on delete cascade,
    selected   boolean not null,
    reason     text not null check (length(reason) between 1 and 2000),
    created_at timestamptz not null default now()
);

create trigger budget_override_content after insert or update or delete on budget_override
    for each statement execute function notify_content_change();
