-- A timezone change moves conversions to other report dates without any new
-- extraction (raw data is in UTC), so only the workspace's marts must be
-- rebuilt. `cometly configure` sets this; the orchestrator rebuilds the marts
-- and clears it (only if it was not set again meanwhile).
alter table control.workspaces add column marts_rebuild_requested_at timestamptz;
