"""`cometly-elt reconcile ID`: per local day and event, Cometly against what was loaded and the marts."""

from __future__ import annotations

import argparse
from datetime import date

from cometly_elt.cli.output import emit, json_parent, table
from cometly_elt.errors import UserError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reconcile", parents=[json_parent()],
        help="Cometly's counts vs what was loaded vs the marts, per local day and event, every difference explained",
        description="For each local day and event: what Cometly reports for the workspace's current settings"
        " (counted through its API, within the Space's rate budget), what syncs received, loaded and rejected,"
        " and what the marts show. Each difference is explained by its cause in one line; one without a known"
        " cause is printed as unexplained and the command exits 1.",
    )
    parser.add_argument("workspace_id", metavar="ID")
    parser.add_argument("--from", dest="date_from", type=_date, metavar="D",
                        help="first local date (default: 27 days before --to, not before the history start)")
    parser.add_argument("--to", dest="date_to", type=_date, metavar="D", help="last local date (default: today)")
    parser.add_argument("--event", metavar="E", help="one event (name, or custom label)")
    parser.set_defaults(func=_reconcile)


def _reconcile(args: argparse.Namespace) -> int:
    from cometly_elt import control, reconcile, warehouse
    from cometly_elt.hooks.cometly import workspace_hook

    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise UserError(f"--from {args.date_from} is after --to {args.date_to}: give the first and the last local date")
    with warehouse.connect() as conn:
        control.get_workspace(conn, args.workspace_id)
        conn_id = control.require_cometly_connection(conn, args.workspace_id)["conn_id"]
        with workspace_hook(args.workspace_id, conn_id) as hook:
            report = reconcile.reconcile(conn, hook, args.workspace_id, date_from=args.date_from,
                                         date_to=args.date_to, event=args.event)
    emit(args, report, format_report)
    if report["unexplained"]:
        raise UserError(f"{report['unexplained']} conversions differ without a known cause (lines marked"
                        f" 'unexplained' above)")
    return 0


def format_report(r: dict) -> str:
    settings = r["cometly_settings"]
    head = (f"Reconcile '{r['workspace_id']}', local dates {r['from']}..{r['to']} ({r['timezone']}); Cometly counted"
            f" with {settings['model']}, window {settings['window']} (settings version {settings['version']})"
            f" in {r['api_calls']} API calls.")
    rows = [[d["report_date"], d["event_name"], "yes" if d["is_final"] else "no", d["cometly"], d["received"],
             d["loaded"], d["rejected"], d["in_ad_results"], d["no_ad_id"], d["in_campaign_results"], d["status"]]
            for d in r["days"]]
    lines = [head, ""]
    if rows:
        lines.append(table(["date", "event", "final", "cometly", "received", "loaded", "rejected", "ad results",
                            "no ad id", "campaign results", "status"], rows))
    else:
        lines.append("Nothing in Cometly or in the warehouse for these dates.")
    explained = [(d, c) for d in r["days"] for c in d["causes"]]
    if explained:
        lines.append("")
    for d, c in explained:
        mark = "unexplained: " if c["cause"] == "unexplained" else ""
        lines.append(f"{d['report_date']} {d['event_name']}: {mark}{c['line']}")
    for rejection in r["undated_rejections"]:
        lines.append(f"range: {rejection['rows']} rows rejected for their time (not on any day): {rejection['reason']}")
    equal = sum(d["status"] == "equal" for d in r["days"])
    lines += ["", f"{equal} of {len(r['days'])} day-events equal, "
                  f"{sum(d['status'] == 'explained' for d in r['days'])} explained, "
                  f"{sum(d['status'] == 'unexplained' for d in r['days'])} unexplained."]
    return "\n".join(lines)
