-- The communes of the collectivité's territory (services/core/src/residence.rs), for votes
-- open to its residents only: each by its INSEE code (Code officiel géographique) with the
-- postal codes its residents may type. Nothing about a voter's residence is stored: the
-- code a voter types is checked against this list when they cast, then forgotten.
create table territory_commune (
    insee_code   text primary key check (insee_code ~ '^([0-9]{5}|2[AB][0-9]{3})$'),
    name         text not null check (length(name) between 1 and 200),
    postal_codes text[] not null default '{}'
                 check (array_to_string(postal_codes, ',') ~ '^([0-9]{5}(,[0-9]{5})*)?$')
);

create index territory_commune_postal_idx on territory_commune using gin (postal_codes);

-- The communes of a budget's envelope (INSEE codes): a vote « by residence » lets a voter
-- take part in the envelope of their commune only.
alter table budget_envelope add column communes text[] not null default '{}'
    check (array_to_string(communes, ',') ~ '^(([0-9]{5}|2[AB][0-9]{3})(,([0-9]{5}|2[AB][0-9]{3}))*)?$');
