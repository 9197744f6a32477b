"""Build the dbt marts in-process, for everything or for the (workspace, local dates) a sync touched.

The scope travels to dbt as vars (dbt_project/macros/sync_scope.sql):

    workspace_id            the workspace a sync touched
    date_from, date_to      the local report dates it touched, inclusive
    full_refresh_workspace  every date of workspace_id (reprocess, timezone change)

Without any, every workspace and date is rebuilt. Unit tests (dbt `unit_tests:`) check
the SQL, not the data, so builds skip them; `dbt build` on the command line and the test
suite run them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

from psycopg.conninfo import conninfo_to_dict

from cometly_elt import warehouse
from cometly_elt.errors import UserError

PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR") or Path(__file__).resolve().parents[2] / "dbt_project")

# profiles.yml reads these first; WAREHOUSE_URL's percent-escapes are decoded here.
_PROFILE_ENV = {"DBT_PG_HOST": "host", "DBT_PG_PORT": "port", "DBT_PG_USER": "user",
                "DBT_PG_PASSWORD": "password", "DBT_PG_DBNAME": "dbname"}

# dbt keeps per-process global state (flags, adapters): one invocation at a time.
_ONE_AT_A_TIME = threading.Lock()


class DbtBuildError(UserError):
    """dbt build failed; the message names what failed, on one line."""


def build(
    workspace_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    full_refresh_workspace: bool = False,
    select: str | None = None,
) -> None:
    """Run `dbt build` for the scope; raise DbtBuildError if a model or a data test fails.

    With full_refresh_workspace, dates are ignored: all of the workspace is rebuilt.
    `select` is a dbt selection (e.g. "marts"), space-separated, default everything.
    """
    run(build_args(workspace_id, date_from, date_to, full_refresh_workspace, select))


def build_args(
    workspace_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    full_refresh_workspace: bool = False,
    select: str | None = None,
) -> list[str]:
    """The dbt command line `build` runs (for `run`, when the per-node results matter)."""
    build_vars = {
        "workspace_id": workspace_id,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "full_refresh_workspace": full_refresh_workspace,
    }
    args = ["build", "--vars", json.dumps(build_vars), "--exclude", "test_type:unit"]
    if select:
        args += ["--select", *select.split()]
    return args


def run(args: list[str]) -> list:
    """Invoke dbt with `args` (a dbt command line without `dbt`) against the warehouse;
    return dbt's per-node results (each with .node and .status)."""
    from dbt.cli.main import dbtRunner  # imported here: it takes a second, and DAG files import this module

    profiles_dir = os.environ.get("DBT_PROFILES_DIR") or str(PROJECT_DIR)
    with _ONE_AT_A_TIME, _profile_env(warehouse.warehouse_url()), tempfile.TemporaryDirectory(
        prefix="cometly-dbt-"
    ) as scratch:
        # A private target and log directory per run: builds of different workspaces run
        # at once, and dbt's target/ (manifest, partial parse state) is not safe to share.
        result = dbtRunner().invoke([
            *args,
            "--project-dir", str(PROJECT_DIR),
            "--profiles-dir", profiles_dir,
            "--target-path", scratch,
            "--log-path", scratch,
            "--no-use-colors",
        ])
    if not result.success:
        raise DbtBuildError(failure_summary(args[0], result))
    return list(getattr(result.result, "results", None) or [])


@contextmanager
def _profile_env(url: str) -> Iterator[None]:
    parts = conninfo_to_dict(url)
    saved = {name: os.environ.get(name) for name in _PROFILE_ENV}
    for name, key in _PROFILE_ENV.items():
        os.environ[name] = str(parts.get(key) or "")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def failure_summary(command: str, result) -> str:
    """One line: which models and tests failed, and dbt's explanation for each."""
    if result.exception is not None:
        return f"dbt {command} failed: {_explanation(str(result.exception))}"
    failures = []
    for node_result in getattr(result.result, "results", []) or []:
        if str(node_result.status) in ("error", "fail", "runtime error"):
            node = node_result.node
            kind = str(node.resource_type).replace("_", " ")
            failures.append(f"{kind} {node.name} {node_result.status}: {_explanation(node_result.message or '')}")
    if not failures:
        return f"dbt {command} failed (see the dbt log above)"
    shown = "; ".join(failures[:3])
    more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
    return f"dbt {command} failed: {shown}{more}"


# dbt's errors start with a heading such as "Database Error in model X (path)" and say
# why on the next line; the lines starting with ">" are its Jinja call stack.
_HEADING = re.compile(r"^(\w+ Error)\b")


def _explanation(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip() and not line.strip().startswith(">")]
    if not lines:
        return "no message"
    heading = _HEADING.match(lines[0])
    if heading and len(lines) > 1:
        return f"{heading.group(1)}: {lines[1]}"
    return lines[0]
