{{
    config(
        materialized='incremental',
        incremental_strategy='scoped_replace',
        on_schema_change='fail',
        pre_hook="{{ sync_scope_lock() }}",
        indexes=[{'columns': ['workspace_id', 'report_date']}],
    )
}}

with workspaces as (
    select * from {{ ref('stg_control__workspaces') }}
),

conversions as (
    select * from {{ ref('stg_cometly__conversions') }}
),

conversions_in_scope as (
    select
        conversions.*,
        workspaces.timezone
    from conversions
    join workspaces
        on workspaces.workspace_id = conversions.workspace_id
    {% if is_incremental() -%}
    -- an incremental run rebuilds its sync scope only; the first build and --full-refresh
    -- build everything
    where {{ sync_scope_event_filter('conversions.workspace_id', 'conversions.event_time_utc') }}
    {%- endif %}
),

localized_conversions as (
    select
        *,
        -- the local date in the workspace's timezone, by PostgreSQL's time zone rules
        -- (daylight saving, half- and quarter-hour offsets), never a fixed offset
        (event_time_utc at time zone timezone)::date as report_date
    from conversions_in_scope
)

select
    workspace_id,
    report_date,
    event_name,
    ad_account_id,
    campaign_id,
    adset_id,
    ad_id,
    -- Cometly's names for the touch (shown when Meta does not know the campaign)
    max(campaign_name) as campaign_name,
    max(adset_name) as adset_name,
    max(ad_name) as ad_name,
    count(*)::integer as results,
    sum(amount) as result_value
from localized_conversions
{% if is_incremental() -%}
where {{ sync_scope_filter('workspace_id', 'report_date') }}
{% endif -%}
group by workspace_id, report_date, event_name, ad_account_id, campaign_id, adset_id, ad_id
