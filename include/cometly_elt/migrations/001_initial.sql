-- Warehouse layout. Schemas: control (what users configured and sync state),
-- raw_cometly and raw_meta (landed API data, kept in UTC), and the dbt
-- schemas staging / intermediate / marts, which dbt creates itself.
-- Every row carries workspace_id: tenants share tables, never rows.

create schema if not exists control;
create schema if not exists raw_cometly;
create schema if not exists raw_meta;

-- ---------------------------------------------------------------- control

create table control.workspaces (
    workspace_id        text primary key,
    name                text not null,
    plan                text not null check (plan in ('hobby', 'pro', 'ultra')),
    subscription_status text not null default 'active' check (subscription_status in ('active', 'paused')),
    history_start       date not null,
    -- The Cometly Space's IANA timezone: report dates are local dates in it.
    timezone            text,
    created_at          timestamptz not null default now()
);

-- The key itself is an Airflow connection (Fernet-encrypted); only its id is here.
create table control.cometly_connections (
    workspace_id text primary key references control.workspaces on delete cascade,
    conn_id      text not null unique,
    base_url     text not null,
    connected_at timestamptz not null default now()
);

-- One row per attribution settings version. Changing model or window adds a
-- version; the marts show only the workspace's active version, so a new one is
-- built beside it ('building') and swapped in when complete.
create table control.attribution_versions (
    workspace_id text not null references control.workspaces on delete cascade,
    version      integer not null,
    model        text not null check (model in ('first_touch', 'last_touch')),
    window_days  integer not null check (window_days in (0, 1, 7, 14, 30, 60, 90)),
    state        text not null check (state in ('building', 'active', 'retired')),
    created_at   timestamptz not null default now(),
    activated_at timestamptz,
    primary key (workspace_id, version)
);
create unique index attribution_versions_one_active
    on control.attribution_versions (workspace_id) where state = 'active';

-- Events the Space has, as seen in Cometly (labels from configured_name).
create table control.event_catalog (
    workspace_id  text not null references control.workspaces on delete cascade,
    event_name    text not null,
    label         text not null,
    last_seen_at  timestamptz not null default now(),
    primary key (workspace_id, event_name)
);

-- Only selected events are synced and become result metrics.
create table control.selected_events (
    workspace_id text not null references control.workspaces on delete cascade,
    event_name   text not null,
    selected_at  timestamptz not null default now(),
    primary key (workspace_id, event_name)
);

create table control.meta_ad_accounts (
    workspace_id  text not null references control.workspaces on delete cascade,
    ad_account_id text not null check (ad_account_id ~ '^[0-9]+$'),  -- without act_
    conn_id       text not null unique,
    base_url      text not null,
    name          text,
    currency      text,
    timezone_name text,
    connected_at  timestamptz not null default now(),
    primary key (workspace_id, ad_account_id)
);

-- A campaign's "Results" column: which Cometly event counts as its result.
create table control.result_metrics (
    workspace_id text not null references control.workspaces on delete cascade,
    campaign_id  text not null,
    event_name   text not null,
    set_at       timestamptz not null default now(),
    primary key (workspace_id, campaign_id)
);

-- Per-workspace sync state: what `status` shows.
create table control.sync_state (
    workspace_id        text primary key references control.workspaces on delete cascade,
    -- changes only when extraction and dbt both finished
    last_synced_at      timestamptz,
    -- the end (UTC) of the newest data interval fully synced
    synced_through      timestamptz,
    last_error          text,
    last_error_at       timestamptz,
    progress            jsonb
);

-- ---------------------------------------------------------------- raw_cometly

-- One row per (workspace, settings version, event): GET /events or export rows.
create table raw_cometly.events (
    workspace_id     text not null,
    settings_version integer not null,
    event_id         text not null,
    event_name       text not null,
    configured_name  text,
    event_time_utc   timestamptz not null,
    amount           numeric not null default 0,
    order_id         text,
    account_id       text,
    account_name     text,
    campaign_id      text,
    campaign_name    text,
    adset_id         text,
    adset_name       text,
    ad_id            text,
    ad_name          text,
    batch_id         bigint not null,
    loaded_at        timestamptz not null default now(),
    primary key (workspace_id, settings_version, event_id)
);
create index events_window on raw_cometly.events (workspace_id, settings_version, event_time_utc);

-- One row per extraction batch (a window, or an export day): received = loaded + rejected.
create table raw_cometly.load_batches (
    batch_id         bigserial primary key,
    workspace_id     text not null,
    settings_version integer not null,
    method           text not null check (method in ('list', 'export')),
    window_start_utc timestamptz not null,
    window_end_utc   timestamptz not null,
    event_names      text[] not null,
    received         integer not null,
    loaded           integer not null,
    rejected         integer not null,
    api_calls        integer not null,
    duration_ms      integer not null,
    finished_at      timestamptz not null default now(),
    check (received = loaded + rejected)
);

-- Rows that could not be loaded as they were, with why, kept verbatim (JSON text).
create table raw_cometly.rejected_rows (
    batch_id     bigint not null,
    workspace_id text not null,
    reason       text not null,
    payload      text not null,
    rejected_at  timestamptz not null default now()
);

-- ---------------------------------------------------------------- raw_meta

create table raw_meta.ad_accounts (
    workspace_id   text not null,
    ad_account_id  text not null,
    name           text,
    currency       text,
    timezone_name  text not null,
    account_status integer,
    batch_id       bigint not null,
    extracted_at   timestamptz not null default now(),
    primary key (workspace_id, ad_account_id)
);

create table raw_meta.campaigns (
    workspace_id     text not null,
    ad_account_id    text not null,
    campaign_id      text not null,
    name             text,
    status           text,
    effective_status text,
    objective        text,
    created_time     timestamptz,
    batch_id         bigint not null,
    extracted_at     timestamptz not null default now(),
    primary key (workspace_id, campaign_id)
);

create table raw_meta.adsets (
    workspace_id     text not null,
    ad_account_id    text not null,
    campaign_id      text not null,
    adset_id         text not null,
    name             text,
    status           text,
    effective_status text,
    batch_id         bigint not null,
    extracted_at     timestamptz not null default now(),
    primary key (workspace_id, adset_id)
);

create table raw_meta.ads (
    workspace_id     text not null,
    ad_account_id    text not null,
    campaign_id      text not null,
    adset_id         text not null,
    ad_id            text not null,
    name             text,
    status           text,
    effective_status text,
    batch_id         bigint not null,
    extracted_at     timestamptz not null default now(),
    primary key (workspace_id, ad_id)
);

-- Ad-level daily delivery; date_start is a local date in account_timezone.
create table raw_meta.ad_insights_daily (
    workspace_id     text not null,
    ad_account_id    text not null,
    campaign_id      text,
    adset_id         text,
    ad_id            text not null,
    date_start       date not null,
    spend            numeric not null default 0,
    impressions      bigint not null default 0,
    clicks           bigint not null default 0,
    account_timezone text not null,
    batch_id         bigint not null,
    extracted_at     timestamptz not null default now(),
    primary key (workspace_id, ad_account_id, ad_id, date_start)
);

create table raw_meta.load_batches (
    batch_id      bigserial primary key,
    workspace_id  text not null,
    ad_account_id text not null,
    entity        text not null,  -- ad_accounts, campaigns, adsets, ads, ad_insights_daily
    since_date    date,
    until_date    date,
    method        text not null check (method in ('sync', 'async')),
    received      integer not null,
    loaded        integer not null,
    rejected      integer not null,
    api_calls     integer not null,
    duration_ms   integer not null,
    finished_at   timestamptz not null default now(),
    check (received = loaded + rejected)
);

create table raw_meta.rejected_rows (
    batch_id     bigint not null,
    workspace_id text not null,
    reason       text not null,
    payload      text not null,
    rejected_at  timestamptz not null default now()
);
