with selected_conversions as (
    select * from {{ ref('int_selected_ad_conversions') }}
    -- conversions credited without an ad id have no place at this grain: they are
    -- listed in dq_unmatched_conversions
    where ad_id is not null
),

final_dates as (
    select * from {{ ref('int_workspace_final_dates') }}
),

ad_results as (
    select
        workspace_id,
        report_date,
        -- Meta's tree when the ad is in a connected account, else the ids Cometly gave
        coalesce(meta_ad_account_id, ad_account_id) as ad_account_id,
        coalesce(meta_campaign_id, campaign_id) as campaign_id,
        coalesce(meta_adset_id, adset_id) as adset_id,
        ad_id,
        event_name,
        event_label,
        sum(results)::integer as results,
        sum(result_value) as result_value
    from selected_conversions
    group by 1, 2, 3, 4, 5, 6, 7, 8
)

select
    ad_results.*,
    -- compared with the last successful sync when queried (a view), never frozen at build
    -- time: a row built days ago turns final without being rebuilt
    coalesce(ad_results.report_date <= final_dates.final_through, false) as is_final
from ad_results
left join final_dates
    on final_dates.workspace_id = ad_results.workspace_id
