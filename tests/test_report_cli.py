"""`cometly-elt report`: the campaign results table and its `--plot` chart after a sync of example.json.

Hand-worked from test_sync_e2e's expected marts, with Spring Sale counting purchases:
- Spring Sale (2000000001): spend 50.00 (03-01) + 45.50 (03-02) = 95.50 on 2 days; one
  purchase (89.5) -> 1 result, cost per result 95.50 / 1 = 95.50, ROAS 89.5 / 95.50 = 0.937 -> 0.94.
- Leads Q1 (2000000002): spend 30.00 on 02-20, no result metric -> result "-", 0 results,
  cost per result "-", ROAS 0 / 30.00 = 0.00.
Ordered by spend: Spring Sale first.
"""

from __future__ import annotations

import pytest

from conftest import EXAMPLE_SCENARIO, cli, set_up_workspace

# Tier (tests/conftest.py): `cometly-elt sync` runs the Sync Now DAG in-process.
pytestmark = pytest.mark.airflow

WS = "acme"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def acme_synced(wh, fast_fake):
    api = fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")
    set_up_workspace(api, WS)
    cli("sync", WS)
    return api


def test_report_shows_the_hand_worked_campaign_results_and_plots_them(acme_synced, tmp_path):
    cli("results", "set", WS, "--campaign", "2000000001", "--event", "purchase")
    report = cli("report", WS)
    lines = [line.split() for line in report.stdout.splitlines()]
    assert lines[0] == ["Acme", "(acme,", "pro)"]
    assert lines[1] == ["campaign", "result", "days", "results", "spend", "cost/result", "ROAS"]
    assert lines[3] == ["Spring", "Sale", "purchase", "2", "1", "95.50", "95.50", "0.94"]
    assert lines[4] == ["Leads", "Q1", "-", "1", "0", "30.00", "-", "0.00"]
    assert len(lines) == 5

    chart = tmp_path / "acme.png"
    plotted = cli("report", WS, "--plot", str(chart))
    assert plotted.stdout.splitlines()[:5] == report.stdout.splitlines()[:5]
    assert f"Chart written to {chart}" in plotted.stdout
    data = chart.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000


def test_report_of_a_period_without_data_says_so_and_refuses_to_plot(acme_synced, tmp_path):
    # example.json's data is from February and March 2026; "today" is months later.
    recent = cli("report", WS, "--days", "7")
    assert recent.stdout.strip() == "Acme (acme, pro): no campaign results in the last 7 days"
    chart = tmp_path / "empty.png"
    empty = cli("report", WS, "--days", "7", "--plot", str(chart), check=False)
    assert empty.returncode != 0
    assert empty.stderr.strip() == "cometly-elt: nothing to plot for 'acme': no campaign results in the period"
    assert not chart.exists()


def test_report_refuses_a_plot_file_that_is_not_png_or_an_unknown_workspace(wh, tmp_path):
    wrong = cli("report", "nope", "--plot", str(tmp_path / "chart.jpg"), check=False)
    assert wrong.returncode != 0
    assert wrong.stderr.strip().startswith("cometly-elt: --plot writes a PNG")
    unknown = cli("report", "nope", check=False)
    assert unknown.returncode != 0
    assert unknown.stderr.strip() == "cometly-elt: no workspace 'nope': see 'cometly-elt workspace list'"
