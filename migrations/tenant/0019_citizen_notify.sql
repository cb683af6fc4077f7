-- A citizen's account changed (blocked, password, address, charter, name…) or left:
-- every process drops its copy of it (`citizens::CitizenCache`), so that a block or a new
-- password takes effect on the next request. Row-level: the payload names the account.
create or replace function notify_citizen_change() returns trigger
language plpgsql as $$
begin
    perform pg_notify('participe_citizen', tg_table_schema || ' ' || old.id);
    return null;
end
$$;

create trigger citizen_account after update or delete on citizen
    for each row execute function notify_citizen_change();
