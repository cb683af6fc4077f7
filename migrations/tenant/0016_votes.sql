-- The vote component (services/core/src/components/vote.rs): simple questions, each with
-- its options, answered on one ballot per person through the shared box (ballots.rs). A
-- ballot's choice is an option, or the question itself for a « vote blanc ».

create table vote_question (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    question      text not null check (length(question) between 1 and 500),
    -- At most this many options may be chosen; 1 is a single choice.
    max_choices   integer not null default 1 check (max_choices between 1 and 50),
    blank_allowed boolean not null default true,
    position      integer not null default 0
);

create index vote_question_dispositif_idx on vote_question (dispositif_id, position);

create table vote_option (
    id          uuid primary key default gen_random_uuid(),
    question_id uuid not null references vote_question (id) on delete cascade,
    label       text not null check (length(label) between 1 and 300),
    position    integer not null default 0,
    unique (question_id, label)
);

create trigger vote_question_content after insert or update or delete on vote_question
    for each statement execute function notify_content_change();
create trigger vote_option_content after insert or update or delete on vote_option
    for each statement execute function notify_content_change();
