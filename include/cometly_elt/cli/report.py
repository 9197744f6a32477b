"""`cometly-elt report ID [--days N]`: the campaign results table, as an analyst reads the marts."""

from __future__ import annotations

import argparse

from cometly_elt.cli.output import emit, json_parent, table

# One row per campaign over the period: what the Results, cost per result and ROAS columns show.
CAMPAIGN_RESULTS = """
select campaign_name, campaign_id, result_event, count(distinct report_date) as days,
       sum(results) as results, sum(spend) as spend,
       round(sum(spend) / nullif(sum(results), 0), 2) as cost_per_result,
       round(sum(result_value) / nullif(sum(spend), 0), 2) as roas
from marts.fct_campaign_results_daily
where workspace_id = %(ws)s
  and (%(days)s::int is null or report_date > current_date - %(days)s::int)
group by campaign_name, campaign_id, result_event
order by spend desc nulls last, campaign_id
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", parents=[json_parent()], help="campaign results of a workspace")
    parser.add_argument("workspace_id")
    parser.add_argument("--days", type=int, help="only the last N days (default: all)")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from psycopg.rows import dict_row

    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        workspace = control.get_workspace(conn, args.workspace_id)
        rows = conn.cursor(row_factory=dict_row).execute(
            CAMPAIGN_RESULTS, {"ws": args.workspace_id, "days": args.days}).fetchall()

    def human(rows: list[dict]) -> str:
        title = f"{workspace['name']} ({args.workspace_id}, {workspace['plan']})"
        if not rows:
            return f"{title}: no campaign results yet (run 'cometly-elt sync {args.workspace_id}')"
        headers = ["campaign", "result", "days", "results", "spend", "cost/result", "ROAS"]
        return title + "\n" + table(headers, [
            [r["campaign_name"], r["result_event"] or "-", r["days"], r["results"], r["spend"],
             r["cost_per_result"] if r["cost_per_result"] is not None else "-",
             r["roas"] if r["roas"] is not None else "-"] for r in rows
        ])

    emit(args, rows, human)
    return 0
