with insights as (
    select * from {{ source('raw_meta', 'ad_insights_daily') }}
),

ads as (
    select * from {{ source('raw_meta', 'ads') }}
),

connected_accounts as (
    select * from {{ ref('stg_control__meta_ad_accounts') }}
)

select
    insights.workspace_id,
    connected_accounts.ad_account_id,
    -- insights rows may come without their parents: the ad knows them
    coalesce(insights.campaign_id, ads.campaign_id) as campaign_id,
    coalesce(insights.adset_id, ads.adset_id) as adset_id,
    insights.ad_id,
    -- Meta's date, a local date in the ad account's timezone, as delivered
    insights.date_start as report_date,
    insights.account_timezone,
    insights.spend,
    insights.impressions,
    insights.clicks
from insights
join connected_accounts
    on connected_accounts.workspace_id = insights.workspace_id
    and connected_accounts.ad_account_id = insights.ad_account_id
left join ads
    on ads.workspace_id = insights.workspace_id
    and ads.ad_id = insights.ad_id
