"""Events: the Space's catalog (names and labels), and which events a workspace selected."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from cometly_elt.control.workspaces import get_workspace
from cometly_elt.errors import UserError
from cometly_elt.vocabulary import STANDARD_EVENTS, event_sort_key, is_event_name


def upsert_event_catalog(conn: psycopg.Connection, workspace_id: str, events: dict[str, str]) -> None:
    """Remember the events (name → label) Cometly showed for the Space."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into control.event_catalog (workspace_id, event_name, label) values (%s, %s, %s)"
            " on conflict (workspace_id, event_name) do update set label = excluded.label, last_seen_at = now()",
            [(workspace_id, name, label) for name, label in events.items()],
        )


def event_catalog(conn: psycopg.Connection, workspace_id: str) -> dict[str, str]:
    rows = conn.execute(
        "select event_name, label from control.event_catalog where workspace_id = %s", (workspace_id,)
    ).fetchall()
    return dict(rows)


def resolve_events(conn: psycopg.Connection, workspace_id: str, names_or_labels: Iterable[str]) -> list[str]:
    """Event names for what a person typed: a name, else a catalog label (exact case first)."""
    get_workspace(conn, workspace_id)
    catalog = event_catalog(conn, workspace_id)
    resolved = []
    for given in names_or_labels:
        if is_event_name(given):
            resolved.append(given)
            continue
        matches = [n for n, label in catalog.items() if label == given] or [
            n for n, label in catalog.items() if label.casefold() == given.casefold()
        ]
        if not matches:
            raise UserError(
                f"no event '{given}' in workspace '{workspace_id}':"
                f" list the events with 'cometly-elt cometly events {workspace_id}'"
            )
        if len(matches) > 1:
            raise UserError(
                f"the label '{given}' matches {' and '.join(sorted(matches, key=event_sort_key))}: select by name"
            )
        resolved.append(matches[0])
    return list(dict.fromkeys(resolved))


def select_events(conn: psycopg.Connection, workspace_id: str, event_names: Iterable[str]) -> list[str]:
    """Select events for syncing; returns those not selected before."""
    get_workspace(conn, workspace_id)
    added = []
    for name in event_names:
        if conn.execute(
            "insert into control.selected_events (workspace_id, event_name) values (%s, %s)"
            " on conflict do nothing",
            (workspace_id, name),
        ).rowcount:
            added.append(name)
    return added


def unselect_events(conn: psycopg.Connection, workspace_id: str, event_names: Iterable[str]) -> list[str]:
    """Stop syncing events; returns those that were selected."""
    get_workspace(conn, workspace_id)
    event_names = list(event_names)
    removed = {name for (name,) in conn.execute(
        "delete from control.selected_events where workspace_id = %s and event_name = any(%s) returning event_name",
        (workspace_id, event_names),
    )}
    return [name for name in event_names if name in removed]


def event_label(name: str, catalog: dict[str, str]) -> str:
    return catalog.get(name) or name


def selected_events(conn: psycopg.Connection, workspace_id: str) -> list[dict]:
    """[{event_name, label}] in display order."""
    catalog = event_catalog(conn, workspace_id)
    names = [n for (n,) in conn.execute(
        "select event_name from control.selected_events where workspace_id = %s", (workspace_id,)
    )]
    return [{"event_name": n, "label": event_label(n, catalog)} for n in sorted(names, key=event_sort_key)]


def available_events(conn: psycopg.Connection, workspace_id: str, seen: Iterable[str]) -> list[dict]:
    """The standard events, the custom events the Space has, and any selected ones.

    [{event_name, label, kind, seen (in the recent data just read), selected}].
    """
    catalog = event_catalog(conn, workspace_id)
    seen = set(seen)
    selected = {e["event_name"] for e in selected_events(conn, workspace_id)}
    names = set(STANDARD_EVENTS) | set(catalog) | selected
    return [
        {
            "event_name": name,
            "label": event_label(name, catalog),
            "kind": "standard" if name in STANDARD_EVENTS else "custom",
            "seen": name in seen,
            "selected": name in selected,
        }
        for name in sorted(names, key=event_sort_key)
    ]
