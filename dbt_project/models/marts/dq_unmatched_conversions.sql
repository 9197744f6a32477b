with unmatched_conversions as (
    select * from {{ ref('int_selected_ad_conversions') }}
    where not is_in_meta
),

connected_accounts as (
    select * from {{ ref('stg_control__meta_ad_accounts') }}
)

select
    unmatched_conversions.workspace_id,
    unmatched_conversions.report_date,
    unmatched_conversions.event_name,
    unmatched_conversions.ad_account_id,
    unmatched_conversions.campaign_id,
    unmatched_conversions.adset_id,
    unmatched_conversions.ad_id,
    unmatched_conversions.campaign_name,
    unmatched_conversions.adset_name,
    unmatched_conversions.ad_name,
    unmatched_conversions.results,
    unmatched_conversions.result_value,
    case
        when unmatched_conversions.ad_id is null then 'no_ad_id'
        when unmatched_conversions.ad_account_id is not null
            and connected_accounts.ad_account_id is null then 'ad_account_not_connected'
        else 'ad_not_in_meta'
    end as reason
from unmatched_conversions
left join connected_accounts
    on connected_accounts.workspace_id = unmatched_conversions.workspace_id
    and connected_accounts.ad_account_id = unmatched_conversions.ad_account_id
