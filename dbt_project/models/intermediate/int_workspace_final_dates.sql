{#- How far back a sync re-reads, as cometly_elt.sync does it (tests/test_final_flag.py checks
    that these equal sync.COMETLY_LOOKBACK and meta.extract.INSIGHTS_LOOKBACK_DAYS):
    Cometly conversions from synced_through - 72 hours (UTC hours, so daylight saving does
    not move it); Meta delivery for the last 28 local dates of each ad account, ending on
    the account-local date of synced_through's last second. -#}
{%- set conversions_lookback_hours = 72 -%}
{%- set delivery_lookback_days = 28 -%}

with workspaces as (
    select * from {{ ref('stg_control__workspaces') }}
),

sync_state as (
    select * from {{ ref('stg_control__sync_state') }}
),

ad_accounts as (
    select * from {{ ref('stg_control__meta_ad_accounts') }}
),

delivery as (
    -- the earliest date any connected account re-reads; an account without a timezone is
    -- read in UTC, as the sync does
    select
        ad_accounts.workspace_id,
        min(
            ((sync_state.synced_through - interval '1 second')
                at time zone coalesce(ad_accounts.ad_account_timezone, 'UTC'))::date
        ) - {{ delivery_lookback_days }} as delivery_final_through
    from ad_accounts
    join sync_state
        on sync_state.workspace_id = ad_accounts.workspace_id
    group by ad_accounts.workspace_id
),

conversions as (
    -- the local date holding the re-pull's first instant is re-pulled in part: not final
    select
        workspaces.workspace_id,
        sync_state.synced_through,
        ((sync_state.synced_through - interval '{{ conversions_lookback_hours }} hours')
            at time zone workspaces.timezone)::date - 1 as conversions_final_through
    from workspaces
    join sync_state
        on sync_state.workspace_id = workspaces.workspace_id
    where sync_state.synced_through is not null
)

select
    conversions.workspace_id,
    conversions.synced_through,
    conversions.conversions_final_through,
    delivery.delivery_final_through,
    -- least() skips nulls: a workspace without a connected account has conversions only
    least(conversions.conversions_final_through, delivery.delivery_final_through) as final_through
from conversions
left join delivery
    on delivery.workspace_id = conversions.workspace_id
