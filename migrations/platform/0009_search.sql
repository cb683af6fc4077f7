-- French full-text search, accent-insensitive: the `unaccent` dictionary (a trusted
-- extension since PostgreSQL 13: the database owner may create it) in front of the French
-- stemmer, as the text search configuration `public.french_unaccent`, which tenant
-- schemas' search indexes use.
create extension if not exists unaccent with schema public;

create text search configuration public.french_unaccent (copy = pg_catalog.french);
alter text search configuration public.french_unaccent
    alter mapping for hword, hword_part, word with public.unaccent, pg_catalog.french_stem;
