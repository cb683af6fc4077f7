-- Questions fréquentes (services/core/src/components/faq.rs): a dispositif's questions and
-- their answers (Markdown), in order.

create table faq_question (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    question      text not null check (length(question) between 1 and 300),
    answer        text not null check (length(answer) between 1 and 10000),
    position      integer not null default 0,
    created_at    timestamptz not null default now()
);

create index faq_question_dispositif_idx on faq_question (dispositif_id, position);

create trigger faq_question_content after insert or update or delete on faq_question
    for each statement execute function notify_content_change();
