with events as (
    select * from {{ source('raw_cometly', 'events') }}
),

active_versions as (
    select workspace_id, version
    from {{ source('control', 'attribution_versions') }}
    where state = 'active'
)

select
    events.workspace_id,
    events.event_id,
    events.event_name,
    events.event_time_utc,
    events.amount,
    events.order_id,
    -- the credited touch's ids as Cometly gives them; empty means none, and an account
    -- id is kept without `act_` whichever way Cometly spells it
    nullif(regexp_replace(trim(events.account_id), '^act_', ''), '') as ad_account_id,
    nullif(trim(events.campaign_id), '') as campaign_id,
    nullif(trim(events.adset_id), '') as adset_id,
    nullif(trim(events.ad_id), '') as ad_id,
    nullif(events.campaign_name, '') as campaign_name,
    nullif(events.adset_name, '') as adset_name,
    nullif(events.ad_name, '') as ad_name
from events
-- one settings version per workspace: its active one (the raw key is
-- workspace_id, settings_version, event_id, so this is one row per event)
join active_versions
    on active_versions.workspace_id = events.workspace_id
    and active_versions.version = events.settings_version
