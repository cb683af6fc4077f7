-- Components: what each dispositif hosts (see services/core/src/components). One row per
-- component a dispositif hosts, in the order staff chose, with its settings, the dates of
-- its phases and the actions for which staff require a verified identity. Removing a
-- component only marks it removed: its data stays, in exports too.
--
-- Expand only: the dispositif's kind, dates and rules stay where they are (the previous
-- release reads them; they are the defaults components read too).

create table dispositif_component (
    id            uuid primary key default gen_random_uuid(),
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    component     text not null check (component ~ '^[a-z]+(-[a-z]+)*$' and length(component) <= 40),
    position      integer not null default 0,
    published     boolean not null default true,
    settings      jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
    phases        jsonb not null default '{}' check (jsonb_typeof(phases) = 'object'),
    verified_for  text[] not null default '{}',
    removed_at    timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint dispositif_component_once unique (dispositif_id, component)
);

create trigger dispositif_component_updated_at before update on dispositif_component
    for each row execute function set_updated_at();

-- What every dispositif held before components, as components: its presentation, then
-- what its kind had (a call's contributions, a council's composition and sittings), then
-- its meetings, news and documents.
insert into dispositif_component (dispositif_id, component, position, settings)
select d.id, c.component, c.position, c.settings
  from dispositif d
  cross join lateral (
      values ('presentation', 0, '{}'::jsonb),
             ('contributions', 1, '{"commentaires": true}'::jsonb),
             ('composition', 1, '{}'::jsonb),
             ('agenda', 2, case when d.kind = 'conseil'
                                then '{"titre": "Séances", "passees": true}'::jsonb
                                else '{"titre": "Prochaines rencontres", "passees": false}'::jsonb end),
             ('actualites', 3, '{}'::jsonb),
             ('documents', 4, '{}'::jsonb)
  ) as c(component, position, settings)
 where (c.component <> 'contributions' or d.kind = 'appel')
   and (c.component <> 'composition' or d.kind = 'conseil');

create index dispositif_component_dispositif_idx on dispositif_component (dispositif_id, position);

create trigger dispositif_component_content after insert or update or delete on dispositif_component
    for each statement execute function notify_content_change();
