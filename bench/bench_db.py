"""A fresh, migrated database of a benchmark's own on the project's PostgreSQL."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg


def bench_database(default_name: str) -> str:
    """Drop and create COMETLY_BENCH_DATABASE (else `default_name`) beside WAREHOUSE_URL's; its URL."""
    from cometly_elt import warehouse

    base = os.environ.get("WAREHOUSE_URL")
    if not base:
        sys.exit("WAREHOUSE_URL is not set: source .local/env.sh first")
    name = os.environ.get("COMETLY_BENCH_DATABASE", default_name)
    parts = urlsplit(base)
    with psycopg.connect(urlunsplit((*parts[:2], "/postgres", parts.query, "")), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    url = urlunsplit((*parts[:2], f"/{name}", parts.query, ""))
    warehouse.migrate(url)
    return url
