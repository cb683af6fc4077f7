-- Search indexes (core::search): the same expressions the search query uses, so that
-- PostgreSQL reads these GIN indexes instead of every row.
create index contribution_search_idx on contribution
    using gin (to_tsvector('public.french_unaccent', title || ' ' || body));
create index comment_search_idx on comment
    using gin (to_tsvector('public.french_unaccent', body));
create index news_search_idx on news
    using gin (to_tsvector('public.french_unaccent', title || ' ' || summary || ' ' || body));
create index event_search_idx on event
    using gin (to_tsvector('public.french_unaccent', title || ' ' || description || ' ' || place));
create index document_search_idx on document
    using gin (to_tsvector('public.french_unaccent', title || ' ' || description));
