"""Connections to the warehouse and its schema migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg

from cometly_elt.errors import UserError

# Any fixed 64-bit number: serialises concurrent `migrate` calls.
_MIGRATION_LOCK = 0x636F6D65746C79


def warehouse_url() -> str:
    url = os.environ.get("WAREHOUSE_URL")
    if not url:
        raise UserError("WAREHOUSE_URL is not set: run 'make setup' and 'source .local/env.sh'.")
    return url


@contextmanager
def connect(url: str | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    """A connection that commits on success and rolls back on error."""
    url = url or warehouse_url()
    try:
        conn = psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        host = psycopg.conninfo.conninfo_to_dict(url).get("host", "?")
        raise UserError(f"cannot reach the warehouse at {host}: is PostgreSQL running?"
                        " ('make setup' starts it)") from exc
    with conn:
        yield conn


def _migration_files() -> list[tuple[int, str, str]]:
    files = []
    for entry in resources.files("cometly_elt.migrations").iterdir():
        if entry.name.endswith(".sql"):
            files.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(files)


def migrate(url: str | None = None) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction; return their names."""
    applied_now = []
    with connect(url) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute("create schema if not exists control")
            conn.execute(
                "create table if not exists control.schema_migrations ("
                " version integer primary key, name text not null,"
                " applied_at timestamptz not null default now())"
            )
            conn.commit()
            done = {v for (v,) in conn.execute("select version from control.schema_migrations")}
            for version, name, sql in _migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "insert into control.schema_migrations (version, name) values (%s, %s)",
                        (version, name),
                    )
                applied_now.append(name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
            conn.commit()
    return applied_now
