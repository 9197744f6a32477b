with ad_conversions as (
    select * from {{ ref('int_ad_conversions_daily') }}
),

selected_events as (
    select * from {{ ref('stg_control__selected_events') }}
),

meta_ads as (
    select * from {{ ref('stg_meta__ads') }}
),

connected_accounts as (
    select * from {{ ref('stg_control__meta_ad_accounts') }}
)

select
    ad_conversions.workspace_id,
    ad_conversions.report_date,
    ad_conversions.event_name,
    ad_conversions.ad_account_id,
    ad_conversions.campaign_id,
    ad_conversions.adset_id,
    ad_conversions.ad_id,
    ad_conversions.campaign_name,
    ad_conversions.adset_name,
    ad_conversions.ad_name,
    ad_conversions.results,
    ad_conversions.result_value,
    case
        when ad_conversions.ad_id is null then 'no_ad_id'
        when ad_conversions.ad_account_id is not null
            and connected_accounts.ad_account_id is null then 'ad_account_not_connected'
        else 'ad_not_in_meta'
    end as reason
from ad_conversions
join selected_events
    on selected_events.workspace_id = ad_conversions.workspace_id
    and selected_events.event_name = ad_conversions.event_name
left join meta_ads
    on meta_ads.workspace_id = ad_conversions.workspace_id
    and meta_ads.ad_id = ad_conversions.ad_id
left join connected_accounts
    on connected_accounts.workspace_id = ad_conversions.workspace_id
    and connected_accounts.ad_account_id = ad_conversions.ad_account_id
where meta_ads.ad_id is null
