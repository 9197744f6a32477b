select
    workspace_id,
    campaign_id,
    event_name as result_event
from {{ source('control', 'result_metrics') }}
