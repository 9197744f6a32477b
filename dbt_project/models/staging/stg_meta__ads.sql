with ads as (
    select * from {{ source('raw_meta', 'ads') }}
),

connected_accounts as (
    select * from {{ ref('stg_control__meta_ad_accounts') }}
)

select
    ads.workspace_id,
    connected_accounts.ad_account_id,
    ads.campaign_id,
    ads.adset_id,
    ads.ad_id,
    ads.name as ad_name,
    ads.status
from ads
join connected_accounts
    on connected_accounts.workspace_id = ads.workspace_id
    and connected_accounts.ad_account_id = ads.ad_account_id
