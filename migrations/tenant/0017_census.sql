-- Census lists of votes (services/core/src/census.rs): who may vote, as staff uploaded it
-- (electoral-roll numbers or other identifiers with birth dates), stored only as keyed
-- hashes (HMAC-SHA256 under a key from PARTICIPE_SECRET_KEY, never in the database).
create table census_entry (
    dispositif_id uuid not null references dispositif (id) on delete cascade,
    entry         bytea not null check (length(entry) = 32),
    primary key (dispositif_id, entry)
);
