with campaigns as (
    select * from {{ source('raw_meta', 'campaigns') }}
),

connected_accounts as (
    select * from {{ ref('stg_control__meta_ad_accounts') }}
)

select
    campaigns.workspace_id,
    connected_accounts.ad_account_id,
    campaigns.campaign_id,
    campaigns.name as campaign_name,
    campaigns.status,
    campaigns.effective_status,
    campaigns.objective,
    campaigns.created_time
from campaigns
join connected_accounts
    on connected_accounts.workspace_id = campaigns.workspace_id
    and connected_accounts.ad_account_id = campaigns.ad_account_id
