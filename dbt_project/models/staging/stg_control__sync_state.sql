select
    workspace_id,
    -- the end (UTC) of the newest data interval that was extracted and built: what the
    -- next sync re-pulls is measured from it
    synced_through,
    last_synced_at
from {{ source('control', 'sync_state') }}
