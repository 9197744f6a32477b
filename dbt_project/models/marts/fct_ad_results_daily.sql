with ad_conversions as (
    select * from {{ ref('int_ad_conversions_daily') }}
    -- conversions credited without an ad id have no place at this grain: they are
    -- listed in dq_unmatched_conversions
    where ad_id is not null
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
    -- Meta's tree when the ad is in a connected account, else the ids Cometly gave
    coalesce(meta_ads.ad_account_id, ad_conversions.ad_account_id) as ad_account_id,
    coalesce(meta_ads.campaign_id, ad_conversions.campaign_id) as campaign_id,
    coalesce(meta_ads.adset_id, ad_conversions.adset_id) as adset_id,
    ad_conversions.ad_id,
    ad_conversions.event_name,
    selected_events.event_label,
    sum(ad_conversions.results)::integer as results,
    sum(ad_conversions.result_value) as result_value
from ad_conversions
join selected_events
    on selected_events.workspace_id = ad_conversions.workspace_id
    and selected_events.event_name = ad_conversions.event_name
left join meta_ads
    on meta_ads.workspace_id = ad_conversions.workspace_id
    and meta_ads.ad_id = ad_conversions.ad_id
group by 1, 2, 3, 4, 5, 6, 7, 8
