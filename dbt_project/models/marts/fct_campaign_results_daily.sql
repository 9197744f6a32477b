with ad_results as (
    select * from {{ ref('fct_ad_results_daily') }}
),

ad_delivery as (
    select * from {{ ref('stg_meta__ad_insights_daily') }}
),

result_metrics as (
    select * from {{ ref('stg_control__result_metrics') }}
),

meta_campaigns as (
    select * from {{ ref('stg_meta__campaigns') }}
),

final_dates as (
    select * from {{ ref('int_workspace_final_dates') }}
),

cometly_campaign_names as (
    -- the name Cometly gave a campaign that day, for campaigns Meta does not know
    select workspace_id, report_date, campaign_id, max(campaign_name) as campaign_name
    from {{ ref('int_ad_conversions_daily') }}
    group by workspace_id, report_date, campaign_id
),

result_event_results as (
    -- each campaign's results: the conversions of its configured result event only
    select
        ad_results.workspace_id,
        ad_results.report_date,
        ad_results.campaign_id,
        ad_results.ad_account_id,
        ad_results.results,
        ad_results.result_value
    from ad_results
    join result_metrics
        on result_metrics.workspace_id = ad_results.workspace_id
        and result_metrics.campaign_id = ad_results.campaign_id
        and result_metrics.result_event = ad_results.event_name
),

campaign_day_facts as (
    -- union then sum (not a full join) so that filters on workspace and date reach both
    -- inputs' indexes when analysts query the view
    select
        workspace_id, report_date, campaign_id, ad_account_id,
        spend, impressions, clicks,
        0 as results, 0::numeric as result_value
    from ad_delivery
    where campaign_id is not null
    union all
    select
        workspace_id, report_date, campaign_id, ad_account_id,
        0::numeric, 0::bigint, 0::bigint,
        results, result_value
    from result_event_results
    where campaign_id is not null
),

campaign_days as (
    select
        workspace_id,
        report_date,
        campaign_id,
        max(ad_account_id) as ad_account_id,
        sum(results)::integer as results,
        sum(result_value) as result_value,
        sum(spend) as spend,
        sum(impressions)::bigint as impressions,
        sum(clicks)::bigint as clicks
    from campaign_day_facts
    group by workspace_id, report_date, campaign_id
)

select
    campaign_days.workspace_id,
    campaign_days.report_date,
    coalesce(meta_campaigns.ad_account_id, campaign_days.ad_account_id) as ad_account_id,
    campaign_days.campaign_id,
    coalesce(meta_campaigns.campaign_name, cometly_campaign_names.campaign_name) as campaign_name,
    result_metrics.result_event,
    campaign_days.results,
    campaign_days.result_value,
    campaign_days.spend,
    campaign_days.impressions,
    campaign_days.clicks,
    -- trim_scale: 20, not 20.0000000000000000 (numeric division pads the scale)
    trim_scale(campaign_days.spend / nullif(campaign_days.results, 0)) as cost_per_result,
    trim_scale(campaign_days.result_value / nullif(campaign_days.spend, 0)) as roas,
    -- results and spend of the date can no longer change (see int_workspace_final_dates)
    coalesce(campaign_days.report_date <= final_dates.final_through, false) as is_final
from campaign_days
left join meta_campaigns
    on meta_campaigns.workspace_id = campaign_days.workspace_id
    and meta_campaigns.campaign_id = campaign_days.campaign_id
left join result_metrics
    on result_metrics.workspace_id = campaign_days.workspace_id
    and result_metrics.campaign_id = campaign_days.campaign_id
left join cometly_campaign_names
    on cometly_campaign_names.workspace_id = campaign_days.workspace_id
    and cometly_campaign_names.report_date = campaign_days.report_date
    and cometly_campaign_names.campaign_id = campaign_days.campaign_id
left join final_dates
    on final_dates.workspace_id = campaign_days.workspace_id
-- "a campaign with spend or results that day": results of its result event only, so a
-- campaign without a result metric has a row on the days it spent
where campaign_days.spend > 0 or campaign_days.results > 0
