"""Rows as dicts: the two query helpers every control module uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row


def one(conn: psycopg.Connection, query: str, params: Iterable[Any] = ()) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def all_rows(conn: psycopg.Connection, query: str, params: Iterable[Any] = ()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()
