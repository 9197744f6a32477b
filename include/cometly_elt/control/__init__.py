"""The control plane: what each workspace configured, what the warehouse holds, and its sync state.

Small functions over a psycopg connection; the caller owns the transaction
(`warehouse.connect()` commits on success; the rate budget's callers autocommit). Every value goes through query
parameters: names and labels may hold quotes, semicolons or any Unicode and
are stored and returned verbatim. Nothing outside this package writes SQL
against the `control` schema.

One module per concern:
  workspaces          registering, listing, pausing, removing (with every row a workspace owns)
  cometly_connection  which Airflow connection holds a workspace's Cometly key
  attribution         settings versions: configure, reprocess, swap a rebuilt version in
  events              the Space's event catalog and the events a workspace selected
  meta_accounts       connected Meta ad accounts, and those in another timezone
  results             each campaign's result metric
  settings            a workspace's whole configuration in one read; what it lacks to sync
  coverage            the ledger of loaded Cometly rows, and what each sync must fetch
  sync_state          Last Synced, the last error, progress
  rate_budget         the rows of each Space's shared Cometly call budget (its rules: cometly/rate_budget.py)
  status              what `cometly-elt status` shows

The names most callers need are importable from the package itself (`control.get_workspace`).
"""

from cometly_elt.control.attribution import (
    AttributionChange,
    ReprocessNotConfirmed,
    activate_version,
    active_version,
    building_version,
    clear_marts_rebuild,
    configure_attribution,
    request_marts_rebuild,
)
from cometly_elt.control.cometly_connection import (
    cometly_conn_id,
    cometly_connection,
    require_cometly_connection,
    set_cometly_connection,
)
from cometly_elt.control.events import (
    available_events,
    event_catalog,
    event_label,
    resolve_events,
    select_events,
    selected_events,
    unselect_events,
    upsert_event_catalog,
)
from cometly_elt.control.meta_accounts import (
    TimezoneMismatch,
    meta_ad_accounts,
    refresh_meta_ad_account,
    save_meta_ad_account,
    timezone_mismatches,
)
from cometly_elt.control.results import result_metric, set_result_metric
from cometly_elt.control.settings import setup_problem, workspace_settings
from cometly_elt.control.status import workspace_status
from cometly_elt.control.sync_state import (
    failed_since,
    finish_result_backfill,
    forget_loaded_history,
    merge_sync_progress,
    record_sync_error,
    record_sync_success,
    set_sync_progress,
    sync_state,
)
from cometly_elt.control.workspaces import (
    Removal,
    add_workspace,
    get_workspace,
    list_workspaces,
    remove_workspace,
    set_subscription,
)
from cometly_elt.vocabulary import (
    MODELS,
    PLAN_SYNC_HOURS,
    STANDARD_EVENTS,
    SUBSCRIPTIONS,
    WINDOWS,
    event_sort_key,
    is_event_name,
    parse_model,
    parse_plan,
    parse_window,
    window_label,
)

__all__ = [
    "MODELS", "PLAN_SYNC_HOURS", "STANDARD_EVENTS", "SUBSCRIPTIONS", "WINDOWS",
    "AttributionChange", "Removal", "ReprocessNotConfirmed", "TimezoneMismatch",
    "activate_version", "active_version", "add_workspace", "available_events", "building_version",
    "clear_marts_rebuild", "cometly_conn_id", "cometly_connection", "configure_attribution", "event_catalog",
    "event_label", "event_sort_key", "failed_since", "finish_result_backfill", "forget_loaded_history", "get_workspace",
    "is_event_name", "list_workspaces", "merge_sync_progress", "meta_ad_accounts", "parse_model", "parse_plan",
    "parse_window",
    "record_sync_error", "record_sync_success", "refresh_meta_ad_account", "remove_workspace", "request_marts_rebuild",
    "require_cometly_connection", "resolve_events", "result_metric", "save_meta_ad_account", "select_events",
    "selected_events", "set_cometly_connection", "set_result_metric", "set_subscription", "set_sync_progress",
    "setup_problem", "sync_state", "timezone_mismatches", "unselect_events", "upsert_event_catalog",
    "window_label", "workspace_settings", "workspace_status",
]
