select
    workspace_id,
    ad_account_id,  -- digits, without act_ (checked by the table)
    name as ad_account_name,
    timezone_name as ad_account_timezone
from {{ source('control', 'meta_ad_accounts') }}
