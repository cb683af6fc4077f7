-- The history table of a tenant schema. Created by the fleet runner before the first tenant
-- migration (so it is not itself a migration); kept in this file so that the runner and
-- scripts/sqlx-prepare share one definition.
create table if not exists schema_migration (
    version     bigint primary key,
    description text not null,
    checksum    bytea not null,
    applied_at  timestamptz not null default now()
)
