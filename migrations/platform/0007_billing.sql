-- Billing: the plans collectivités subscribe to, where each tenant stands with payment,
-- what Stripe told us (each event once), and the invoices it sent.

-- Prices per population stratum and period, excluding VAT; VAT in basis points (2000 =
-- 20 %). `stripe_plan` is the id of the matching Stripe plan or price, once created.
create table plan (
    stratum        text not null check (stratum in ('moins_de3500', 'de3500_a20000', 'de20000_a100000',
                                                    'plus_de100000', 'departements_et_regions')),
    period         text not null check (period in ('month', 'year')),
    price_ht_cents integer not null check (price_ht_cents > 0),
    vat_rate_bp    integer not null default 2000 check (vat_rate_bp between 0 and 10000),
    stripe_plan    text,
    primary key (stratum, period)
);

insert into plan (stratum, period, price_ht_cents) values
    ('moins_de3500', 'month', 3900), ('moins_de3500', 'year', 39000),
    ('de3500_a20000', 'month', 9900), ('de3500_a20000', 'year', 99000),
    ('de20000_a100000', 'month', 24900), ('de20000_a100000', 'year', 249000),
    ('plus_de100000', 'month', 59000), ('plus_de100000', 'year', 590000),
    ('departements_et_regions', 'month', 149000), ('departements_et_regions', 'year', 1490000);

-- Where each tenant stands with billing. `billing_state` and `read_only` are derived
-- (`core::billing::evaluate`) from the mode, the trial's end, the paid-until date (manual
-- billing) or Stripe's subscription status, by the hourly sweep and after every change.
alter table tenant
    add column billing_period text not null default 'year' check (billing_period in ('month', 'year')),
    add column billing_mode text not null default 'manual' check (billing_mode in ('manual', 'online', 'invoice')),
    add column subscription_status text
        check (subscription_status in ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due',
                                       'unpaid', 'canceled', 'paused')),
    -- When Stripe last reported a status that is not active: the grace period counts from it.
    add column subscription_problem_since timestamptz,
    -- `created` of the last subscription event applied: an older event arriving late is
    -- recorded but changes nothing.
    add column subscription_event_at timestamptz,
    add column stripe_customer_id text constraint tenant_stripe_customer_key unique,
    add column stripe_subscription_id text,
    add column billing_state text not null default 'trial'
        check (billing_state in ('trial', 'active', 'past_due', 'unpaid', 'cancelled')),
    add column billing_state_since timestamptz not null default now(),
    -- Read-only for citizens (everything readable, nothing new posted) since when.
    add column read_only_since timestamptz,
    -- The suspension was billing's (lifted by billing when payment comes back), not an
    -- operator's.
    add column suspended_by_billing boolean not null default false;

-- Tenants without a trial (made by operators) are not billed until operators say so; the
-- hourly sweep moves the others where their dates put them, and tells their admins.
update tenant set billing_state = 'active' where trial_ends_at is null or paid_until >= current_date;

-- Every Stripe event received, once: the primary key makes a second delivery a no-op.
create table stripe_event (
    id          text primary key check (id ~ '^evt_[A-Za-z0-9]+$'),
    type        text not null,
    created     timestamptz not null,
    tenant_id   uuid references tenant (id) on delete set null,
    -- `applied`, `stale` (older than what was applied), `ignored` (a type or a customer we
    -- do not follow).
    outcome     text not null,
    received_at timestamptz not null default now()
);

-- Invoices as Stripe reported them, for the console's list.
create table invoice (
    stripe_id      text primary key,
    tenant_id      uuid not null references tenant (id) on delete cascade,
    number         text,
    status         text not null,
    amount_due     bigint not null default 0,
    amount_paid    bigint not null default 0,
    currency       text not null default 'eur',
    hosted_url     text,
    pdf_url        text,
    due_date       date,
    created        timestamptz not null,
    -- `created` of the event this row comes from: a late, older event does not overwrite.
    event_at       timestamptz not null
);

create index invoice_tenant_idx on invoice (tenant_id, created desc);
