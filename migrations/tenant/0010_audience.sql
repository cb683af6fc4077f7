-- Audience statistics without cookies (core::audience): per day, each visitor known only
-- by a hash made with the day's salt (deleted after the day), and the views per page.
create table audience_visitor (
    day     date not null,
    visitor bytea not null,
    views   integer not null default 0,
    visits  integer not null default 0,
    primary key (day, visitor)
);

create table audience_page (
    day   date not null,
    path  text not null,
    views integer not null default 0,
    primary key (day, path)
);
