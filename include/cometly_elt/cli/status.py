"""Sub-command: status ID: a workspace's settings, selected events and sync state."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from cometly_elt.cli.output import emit, json_parent
from cometly_elt.inputs import terminal_text


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("status", help="settings, selected events, Last Synced, last error",
                                 parents=[json_parent()])
    parser.add_argument("workspace_id", metavar="ID")
    parser.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    from cometly_elt import actions

    emit(args, actions.workspace_status(args.workspace_id), format_status)
    return 0


def _when(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def _version(v: dict) -> str:
    return f"{v['model']}, window {v['window']} (settings version {v['version']})"


def _coverage_lines(s: dict) -> list[tuple[str, str]]:
    """Each selected event's history loaded, as "purchase 330 of 330 days"."""
    if not s["coverage"]:
        return []
    return [("History loaded", ", ".join(
        f"{c['event_name']} {c['loaded_days']} of {c['total_days']} days" for c in s["coverage"]))]


def status_lines(s: dict) -> list[tuple[str, str]]:
    """(label, value) pairs in display order."""
    workspace_id = s["workspace_id"]
    subscription = (
        f"paused: no syncs run until 'cometly-elt workspace resume {workspace_id}'"
        if s["subscription"] == "paused" else "active"
    )
    lines = [
        ("Workspace", f"{workspace_id}: {s['name']}"),
        ("Plan", f"{s['plan']}: syncs every {s['sync_every_hours']} h"),
        ("Subscription", subscription),
        ("History from", str(s["history_start"])),
        ("Cometly", f"connected at {s['cometly']['base_url']}" if s["cometly"] else "not connected"),
        ("Attribution", _version(s["attribution"]) if s["attribution"] else "not configured"),
    ]
    if s["building"]:
        lines.append(("Reprocessing", _version(s["building"]) + ": being built beside the active version"))
    timezone_text = s["timezone"] or "not configured"
    if s["marts_rebuild_pending"]:
        timezone_text += " (changed: marts rebuild pending)"
    lines += [
        ("Timezone", timezone_text),
        ("Events", ", ".join(
            e["event_name"] if e["label"] == e["event_name"] else f"{e['label']} ({e['event_name']})"
            for e in s["selected_events"]
        ) or "none selected"),
        ("Meta ad accounts", ", ".join(
            f"{a['ad_account_id']}" + (f" ({a['name']})" if a["name"] else "") for a in s["meta_ad_accounts"]
        ) or "none connected"),
        *_coverage_lines(s),
        ("Last Synced", _when(s["last_synced_at"])),
        ("Last error", f"{s['last_error']} ({_when(s['last_error_at'])})" if s["last_error"] else "none"),
    ]
    reprocess = s["progress"].get("reprocess")
    if reprocess:
        lines.append(("Reprocessing", f"{reprocess['done_days']} of {reprocess['total_days']} days"
                                      f" (version {reprocess['version']})"))
    backfill = s["progress"].get("result_backfill")
    if backfill:
        lines.append(("Result backfill", f"campaign {backfill['campaign_id']} → {backfill['event']}:"
                                         f" {backfill.get('done_days', 0)} of {backfill.get('total_days', 0)} days,"
                                         f" {backfill['state']}"))
    lines += [("Warning", warning) for warning in s["warnings"]]
    if s["setup_problem"]:
        lines.append(("Next step", s["setup_problem"]))
    return lines


def format_status(s: dict) -> str:
    lines = status_lines(s)
    width = max(len(label) for label, _ in lines)
    # One line per value: a name or an error from outside is shown escaped, never as several lines.
    return "\n".join(f"{label.ljust(width)}  {terminal_text(value)}" for label, value in lines)
