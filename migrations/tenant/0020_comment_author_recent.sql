-- A comment's double-click check looks for the same text by the same author in the last
-- minute: by author and date, it reads that minute's comments of one person only (by
-- author alone it read all their comments). It serves whatever the old index did.
create index comment_author_recent_idx on comment (author_id, created_at);
drop index comment_author_idx;
