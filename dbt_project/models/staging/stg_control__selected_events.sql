with selected_events as (
    select * from {{ source('control', 'selected_events') }}
),

event_catalog as (
    select * from {{ source('control', 'event_catalog') }}
)

select
    selected_events.workspace_id,
    selected_events.event_name,
    -- the label people see: the catalog's (a custom event's configured name), else the
    -- event's own name, as `cometly-elt cometly events` shows it
    coalesce(nullif(event_catalog.label, ''), selected_events.event_name) as event_label
from selected_events
left join event_catalog
    on event_catalog.workspace_id = selected_events.workspace_id
    and event_catalog.event_name = selected_events.event_name
