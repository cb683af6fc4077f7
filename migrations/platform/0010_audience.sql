-- The salt of the day for audience statistics (core::audience): shared by every process,
-- deleted once its day is over, so that no visitor hash can be tied to anyone afterwards.
create table audience_salt (
    day  date primary key,
    salt bytea not null check (length(salt) = 32)
);
