with ad_conversions as (
    select * from {{ ref('int_ad_conversions_daily') }}
),

selected_events as (
    select * from {{ ref('stg_control__selected_events') }}
),

meta_ads as (
    select * from {{ ref('stg_meta__ads') }}
)

select
    ad_conversions.workspace_id,
    ad_conversions.report_date,
    ad_conversions.event_name,
    selected_events.event_label,
    ad_conversions.ad_account_id,
    ad_conversions.campaign_id,
    ad_conversions.adset_id,
    ad_conversions.ad_id,
    ad_conversions.campaign_name,
    ad_conversions.adset_name,
    ad_conversions.ad_name,
    ad_conversions.results,
    ad_conversions.result_value,
    meta_ads.ad_id is not null as is_in_meta,
    meta_ads.ad_account_id as meta_ad_account_id,
    meta_ads.campaign_id as meta_campaign_id,
    meta_ads.adset_id as meta_adset_id
from ad_conversions
join selected_events
    on selected_events.workspace_id = ad_conversions.workspace_id
    and selected_events.event_name = ad_conversions.event_name
left join meta_ads
    on meta_ads.workspace_id = ad_conversions.workspace_id
    and meta_ads.ad_id = ad_conversions.ad_id
