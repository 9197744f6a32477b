with workspaces as (
    select * from {{ source('control', 'workspaces') }}
),

active_versions as (
    select * from {{ source('control', 'attribution_versions') }}
    where state = 'active'
)

select
    workspaces.workspace_id,
    workspaces.timezone,
    active_versions.version as active_settings_version
from workspaces
left join active_versions
    on active_versions.workspace_id = workspaces.workspace_id
