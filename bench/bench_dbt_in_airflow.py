"""dbt from Airflow: one `dbt build` task (what the sync DAGs do) against Astronomer Cosmos.

Not a test. Cosmos is not a project dependency: run this with a Python environment that
has the project's requirements plus `astronomer-cosmos==1.15.1`, e.g.

    uv venv /tmp/cosmos-venv && VIRTUAL_ENV=/tmp/cosmos-venv uv pip install \\
        -r requirements.txt astronomer-cosmos==1.15.1 && VIRTUAL_ENV=/tmp/cosmos-venv uv pip install --no-deps -e .
    source .local/env.sh && PATH=/tmp/cosmos-venv/bin:$PATH python bench/bench_dbt_in_airflow.py --workspace demo_pro

Both DAGs rebuild one workspace's whole history (a workspace refresh, the heaviest thing a
sync asks of dbt) on the warehouse `make demo` filled; they run alternately with
`airflow dags test` in the same session, against a metadata database of their own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]

DAGS = '''
"""Airflow DAGs for bench_dbt_in_airflow.py."""
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

PROJECT = Path("{project}")
SCOPE = {{"workspace_id": "{workspace}", "full_refresh_workspace": True}}

with DAG("bench_dbt_one_task", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    @task
    def build_marts():
        from cometly_elt import dbt
        dbt.build(workspace_id=SCOPE["workspace_id"], full_refresh_workspace=True)
    build_marts()

with DAG("bench_dbt_cosmos", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    DbtTaskGroup(
        group_id="marts",
        project_config=ProjectConfig(PROJECT, dbt_vars=SCOPE, install_dbt_deps=False),
        profile_config=ProfileConfig(profile_name="cometly_elt", target_name="warehouse",
                                     profiles_yml_filepath=PROJECT / "profiles.yml"),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(load_method=LoadMode.DBT_LS, test_behavior=TestBehavior.AFTER_EACH,
                                   exclude=["resource_type:unit_test"]),
    )
'''


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", default="demo_pro")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    metadata = with_database(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], "cometly_bench_airflow")
    with psycopg.connect(with_database(metadata.replace("+psycopg2", ""), "postgres"), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = 'cometly_bench_airflow'").fetchone():
            conn.execute("create database cometly_bench_airflow")
    dags = Path(tempfile.mkdtemp(prefix="bench-dbt-dags-"))
    (dags / "bench_dbt_dags.py").write_text(DAGS.format(project=ROOT / "dbt_project", workspace=args.workspace))
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata, "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__COSMOS__ENABLE_CACHE": "True"}
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True)

    times: dict[str, list[float]] = {"bench_dbt_one_task": [], "bench_dbt_cosmos": []}
    tasks: dict[str, int] = {}
    for _ in range(args.rounds):
        for dag_id in times:
            start = time.monotonic()
            result = subprocess.run(["airflow", "dags", "test", dag_id], env=env, capture_output=True, text=True)
            times[dag_id].append(time.monotonic() - start)
            if result.returncode != 0:
                raise SystemExit(f"{dag_id} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
            tasks[dag_id] = result.stdout.count("[DAG TEST] end task")
    one, cosmos = (statistics.median(times[d]) for d in times)
    print(f"workspace refresh of {args.workspace}, median of {args.rounds} `airflow dags test` runs:")
    print(f"  one dbt build task: {one:.1f} s, {tasks['bench_dbt_one_task']} task instance(s)")
    print(f"  Cosmos DbtTaskGroup: {cosmos:.1f} s, {tasks['bench_dbt_cosmos']} task instances")
    print(f"  Cosmos / one task: {cosmos / one:.2f}x")


if __name__ == "__main__":
    main()
