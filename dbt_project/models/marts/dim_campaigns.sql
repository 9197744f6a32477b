select
    workspace_id,
    ad_account_id,
    campaign_id,
    campaign_name,
    status,
    objective
from {{ ref('stg_meta__campaigns') }}
