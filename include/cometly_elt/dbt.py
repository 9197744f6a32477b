"""Build the dbt marts in-process, for everything or for the (workspace, local dates) syncs touched.

The scope (dbt_project/macros/sync_scope.sql) is given as dbt vars:

    workspace_id            the workspace a sync touched
    date_from, date_to      the local report dates it touched, inclusive
    full_refresh_workspace  every date of workspace_id (reprocess, timezone change)
    workspaces              a list of the above, one per workspace (`build_workspaces`)

Without any, every workspace and date is rebuilt. `run` hands a scope to dbt in the
environment variable COMETLY_DBT_SCOPE instead of --vars: dbt parses the whole project
again (~2 s more per build, bench/RESULTS.md) whenever --vars change, while the scope in
the environment lets it reuse the parse the previous build saved (see `_saved_parse`).
Unit tests (dbt `unit_tests:`) check the SQL, not the data, so builds skip them; `dbt
build` on the command line and the test suite run them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from cometly_elt import warehouse
from cometly_elt.errors import UserError

PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR") or Path(__file__).resolve().parents[2] / "dbt_project")

# profiles.yml reads these first; WAREHOUSE_URL's percent-escapes are decoded here.
_PROFILE_ENV = {"DBT_PG_HOST": "host", "DBT_PG_PORT": "port", "DBT_PG_USER": "user",
                "DBT_PG_PASSWORD": "password", "DBT_PG_DBNAME": "dbname"}

SCOPE_VARS = ("workspace_id", "date_from", "date_to", "full_refresh_workspace", "workspaces")
SCOPE_ENV = "COMETLY_DBT_SCOPE"

# dbt keeps per-process global state (flags, adapters): one invocation at a time.
_ONE_AT_A_TIME = threading.Lock()


class DbtBuildError(UserError):
    """dbt build failed; the message names what failed, on one line."""


@dataclass(frozen=True)
class WorkspaceScope:
    """One workspace's part of a build: the local report dates a sync touched, or all of them.
    Without a workspace: those dates of every workspace."""

    workspace_id: str | None
    date_from: date | None = None
    date_to: date | None = None
    full_refresh: bool = False

    def as_vars(self) -> dict:
        _check_dates(self.date_from, self.date_to)
        return {
            "workspace_id": self.workspace_id,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "full_refresh_workspace": self.full_refresh,
        }


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


def build_workspaces(scopes: list[WorkspaceScope]) -> None:
    """One `dbt build` for several workspaces' scopes: dbt's start-up and the views' rebuild
    are paid once, not once per workspace (bench/RESULTS.md "Fleet build")."""
    run(_build_command({"workspaces": [scope.as_vars() for scope in scopes]}, None))


def build_args(
    workspace_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    full_refresh_workspace: bool = False,
    select: str | None = None,
) -> list[str]:
    """The dbt command line `build` runs (for `run`, when the per-node results matter)."""
    return _build_command(WorkspaceScope(workspace_id, date_from, date_to, full_refresh_workspace).as_vars(), select)


def _check_dates(date_from: date | None, date_to: date | None) -> None:
    if date_from and date_to and date_from > date_to:
        # Refused before dbt starts; the macro gives the same answer to a command-line --vars.
        raise DbtBuildError(f"dbt build failed: Compilation Error: var date_from ({date_from})"
                            f" is after date_to ({date_to})")


def _build_command(build_vars: dict, select: str | None) -> list[str]:
    # No manifest.json or run_results.json (~0.8 s): `run` deletes its target directory anyway.
    args = ["build", "--vars", json.dumps(build_vars), "--exclude", "test_type:unit", "--no-write-json"]
    if select:
        args += ["--select", *select.split()]
    return args


def run(args: list[str]) -> list:
    """Invoke dbt with `args` (a dbt command line without `dbt`) against the warehouse;
    return dbt's per-node results (each with .node and .status)."""
    from dbt.cli.main import dbtRunner  # imported here: it takes a second, and DAG files import this module

    profiles_dir = os.environ.get("DBT_PROFILES_DIR") or str(PROJECT_DIR)
    url = warehouse.warehouse_url()
    args, scope = _scope_from_vars(args)
    with _ONE_AT_A_TIME, _env({**_profile_env(url), SCOPE_ENV: scope}), tempfile.TemporaryDirectory(
        prefix="cometly-dbt-"
    ) as scratch, _saved_parse(url, Path(scratch)):
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


def _scope_from_vars(args: list[str]) -> tuple[list[str], str | None]:
    """Take a `--vars` made only of scope vars out of the command line; return it as JSON."""
    if "--vars" not in args:
        return args, None
    at = args.index("--vars")
    given = json.loads(args[at + 1])
    if not set(given) <= set(SCOPE_VARS):
        return args, None
    return args[:at] + args[at + 2:], json.dumps(given)


@contextmanager
def _saved_parse(url: str, target: Path) -> Iterator[None]:
    """Start dbt from the parse the previous build saved, and save this one's.

    One saved parse per warehouse database: dbt checks that the project files, dbt version
    and command-line vars are unchanged, but not the profile's values, and every parsed
    node names its database. Copied in and out (replaced atomically) rather than shared:
    builds in other processes run at the same time. Missing or stale, dbt parses afresh.
    """
    parts = conninfo_to_dict(url)
    where = "\0".join(str(parts.get(k) or "") for k in ("host", "port", "dbname", "user"))
    key = hashlib.sha256(f"{PROJECT_DIR}\0{where}".encode()).hexdigest()[:16]
    saved = Path(tempfile.gettempdir()) / f"cometly-dbt-parse-{os.getuid()}-{key}.msgpack"
    state = target / "partial_parse.msgpack"
    if saved.exists():
        shutil.copyfile(saved, state)
    yield
    if state.exists():
        incoming = saved.with_name(f"{saved.name}.{os.getpid()}.tmp")
        shutil.copyfile(state, incoming)
        os.replace(incoming, saved)


def _profile_env(url: str) -> dict[str, str]:
    parts = conninfo_to_dict(url)
    return {name: str(parts.get(key) or "") for name, key in _PROFILE_ENV.items()}


@contextmanager
def _env(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) these environment variables for the block."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
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
