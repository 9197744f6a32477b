"""The Meta ad accounts connected to a workspace, and those reporting in another timezone than it."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from cometly_elt.control.queries import all_rows


@dataclass(frozen=True)
class TimezoneMismatch:
    ad_account_id: str
    account_timezone: str
    workspace_timezone: str

    @property
    def message(self) -> str:
        return (f"ad account act_{self.ad_account_id} reports in {self.account_timezone} but the workspace uses"
                f" {self.workspace_timezone}: spend and results fall on different day boundaries")


def meta_ad_accounts(conn: psycopg.Connection, workspace_id: str) -> list[dict]:
    return all_rows(
        conn,
        "select ad_account_id, conn_id, base_url, name, currency, timezone_name, connected_at"
        " from control.meta_ad_accounts where workspace_id = %s order by ad_account_id",
        (workspace_id,),
    )


def save_meta_ad_account(conn: psycopg.Connection, workspace_id: str, *, ad_account_id: str, conn_id: str,
                         base_url: str, name: str | None, currency: str | None, timezone_name: str | None) -> None:
    conn.execute(
        "insert into control.meta_ad_accounts"
        " (workspace_id, ad_account_id, conn_id, base_url, name, currency, timezone_name)"
        " values (%s, %s, %s, %s, %s, %s, %s) on conflict (workspace_id, ad_account_id) do update set"
        " conn_id = excluded.conn_id, base_url = excluded.base_url, name = excluded.name,"
        " currency = excluded.currency, timezone_name = excluded.timezone_name, connected_at = now()",
        (workspace_id, ad_account_id, conn_id, base_url, name, currency, timezone_name),
    )


def refresh_meta_ad_account(conn: psycopg.Connection, workspace_id: str, ad_account_id: str, *, name: str | None,
                            currency: str | None, timezone_name: str | None) -> None:
    """What Meta says of the account now (its timezone dates its delivery)."""
    conn.execute(
        "update control.meta_ad_accounts set name = %s, currency = %s, timezone_name = %s"
        " where workspace_id = %s and ad_account_id = %s",
        (name, currency, timezone_name, workspace_id, ad_account_id),
    )


def timezone_mismatches(conn: psycopg.Connection, workspace_id: str) -> list[TimezoneMismatch]:
    """Connected ad accounts whose reporting timezone is not the workspace's (both known)."""
    rows = conn.execute(
        "select a.ad_account_id, a.timezone_name, w.timezone from control.meta_ad_accounts a"
        " join control.workspaces w using (workspace_id)"
        " where a.workspace_id = %s and a.timezone_name <> w.timezone order by a.ad_account_id",
        (workspace_id,),
    ).fetchall()
    return [TimezoneMismatch(*row) for row in rows]
