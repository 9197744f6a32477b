"""`cometly-elt report ID [--days N] [--plot FILE.png]`: the campaign results, as an analyst reads the marts.

The table sums the period per campaign; `--plot` draws the same period day by day
(results and cost per result, one line per campaign) into a PNG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cometly_elt import inputs
from cometly_elt.cli.output import emit, json_parent, say, table
from cometly_elt.errors import UserError

PERIOD = "workspace_id = %(ws)s and (%(days)s::int is null or report_date > current_date - %(days)s::int)"

# One row per campaign over the period: what the Results, cost per result and ROAS columns show.
CAMPAIGN_RESULTS = f"""
select campaign_name, campaign_id, result_event, count(distinct report_date) as days,
       sum(results) as results, sum(spend) as spend,
       round(sum(spend) / nullif(sum(results), 0), 2) as cost_per_result,
       round(sum(result_value) / nullif(sum(spend), 0), 2) as roas
from marts.fct_campaign_results_daily
where {PERIOD}
group by campaign_name, campaign_id, result_event
order by spend desc nulls last, campaign_id
"""

# One row per campaign and day, for the chart.
DAILY_CAMPAIGN_RESULTS = f"""
select campaign_id, campaign_name, report_date, sum(results) as results,
       sum(spend) / nullif(sum(results), 0) as cost_per_result
from marts.fct_campaign_results_daily
where {PERIOD}
group by campaign_id, campaign_name, report_date
order by campaign_id, report_date
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", parents=[json_parent()], help="campaign results of a workspace")
    parser.add_argument("workspace_id")
    parser.add_argument("--days", metavar="N",
                        help=f"only the last N days, 1 to {inputs.MAX_REPORT_DAYS} (default: all)")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="also write a chart of daily results and cost per result per campaign")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from psycopg.errors import UndefinedTable
    from psycopg.rows import dict_row

    from cometly_elt import control, warehouse

    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise UserError(f"--plot writes a PNG: name the file *.png (got {inputs.quoted(str(args.plot))})")
    days = None if args.days is None else inputs.report_days(args.days)
    params = {"ws": args.workspace_id, "days": days}
    with warehouse.connect() as conn:
        workspace = control.get_workspace(conn, args.workspace_id)
        cursor = conn.cursor(row_factory=dict_row)
        try:
            rows = cursor.execute(CAMPAIGN_RESULTS, params).fetchall()
        except UndefinedTable:
            raise UserError(f"the marts are not built yet: run 'cometly-elt sync {args.workspace_id}' first") from None
        daily = cursor.execute(DAILY_CAMPAIGN_RESULTS, params).fetchall() if args.plot else []

    title = f"{workspace['name']} ({args.workspace_id}, {workspace['plan']})"

    def human(rows: list[dict]) -> str:
        if not rows:
            if days is not None:
                return f"{title}: no campaign results in the last {days} days"
            return f"{title}: no campaign results yet (run 'cometly-elt sync {args.workspace_id}')"
        headers = ["campaign", "result", "days", "results", "spend", "cost/result", "ROAS"]
        return title + "\n" + table(headers, [
            [r["campaign_name"], r["result_event"] or "-", r["days"], r["results"], r["spend"],
             r["cost_per_result"] if r["cost_per_result"] is not None else "-",
             r["roas"] if r["roas"] is not None else "-"] for r in rows
        ])

    emit(args, rows, human)
    if args.plot is not None:
        if not daily:
            raise UserError(f"nothing to plot for '{args.workspace_id}': no campaign results in the period")
        _plot(daily, title, args.plot)
        if not args.json:
            say(f"Chart written to {args.plot}")
    return 0


def _plot(daily: list[dict], title: str, path: Path) -> None:
    """Two stacked panels sharing the date axis: results per day, cost per result per day."""
    # Figure without pyplot: no global state and no display needed (renders with Agg).
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 7), layout="constrained")
    results_axes, cost_axes = figure.subplots(2, 1, sharex=True)
    campaigns: dict[str, list[dict]] = {}
    for row in daily:
        campaigns.setdefault(row["campaign_id"], []).append(row)
    for rows in campaigns.values():
        label = rows[0]["campaign_name"]
        dates = [r["report_date"] for r in rows]
        results_axes.plot(dates, [r["results"] for r in rows], marker="o", label=label)
        # Days without results have no cost per result: NaN leaves a gap instead of a zero.
        cost_axes.plot(dates, [float(r["cost_per_result"]) if r["cost_per_result"] is not None else float("nan")
                               for r in rows], marker="o", label=label)
    results_axes.set_ylabel("results")
    results_axes.set_ylim(bottom=0)
    results_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    results_axes.set_title(f"{title}: daily results and cost per result by campaign")
    results_axes.legend(loc="upper left", fontsize="small")
    cost_axes.set_ylabel("cost per result")
    cost_axes.set_ylim(bottom=0)
    locator = AutoDateLocator()
    cost_axes.xaxis.set_major_locator(locator)
    cost_axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for axes in (results_axes, cost_axes):
        axes.grid(alpha=0.3)
    try:
        figure.savefig(path, format="png", dpi=100)
    except OSError as err:
        raise UserError(f"cannot write the chart to {path}: {err.strerror or err}") from err
