"""Starting a DAG run from the command line, whether or not Airflow's scheduler is running.

With a live scheduler the run is triggered through Airflow's REST API, so it
shows in the UI like any other; without one the DAG runs here, in-process
(`dag.test()`), so `cometly-elt sync` works on a laptop with nothing started.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cometly_elt.errors import UserError

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    run_id: str
    state: str  # queued (handed to the scheduler), success or failed (ran here)
    where: str  # where to watch or read it


def _api_base_url() -> str:
    from airflow.configuration import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080").rstrip("/")


def scheduler_alive() -> bool:
    from airflow.jobs.job import Job, most_recent_job

    job: Job | None = most_recent_job("SchedulerJob")
    return bool(job and job.is_alive())


def admin_login() -> tuple[str, str]:
    from airflow.configuration import conf

    path = conf.get("core", "simple_auth_manager_passwords_file", fallback="") or os.path.join(
        os.environ["AIRFLOW_HOME"], "simple_auth_manager_passwords.json.generated"
    )
    try:
        user, password = next(iter(json.loads(Path(path).read_text()).items()))
    except (OSError, ValueError, StopIteration) as err:
        raise UserError(f"cannot read the Airflow login from {path}: is 'make airflow' running?") from err
    return user, password


def _trigger_via_api(dag_id: str, conf: dict, token: str | None = None) -> Outcome:
    import requests

    base = _api_base_url()
    if token is None:
        user, password = admin_login()
        login = requests.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=30)
        login.raise_for_status()
        token = login.json()["access_token"]
    response = requests.post(
        f"{base}/api/v2/dags/{dag_id}/dagRuns",
        json={"logical_date": None, "conf": conf},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code >= 400:
        raise UserError(f"Airflow refused to start {dag_id}: {response.json().get('detail', response.text)}")
    run_id = response.json()["dag_run_id"]
    return Outcome(run_id, "queued", f"{base}/dags/{dag_id}/runs/{run_id}")


def run_here(dag_id: str, conf: dict) -> Outcome:
    """One run of the DAG in this process, as `airflow dags test` does; several in one process
    pay Airflow's in-process start-up once."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(str(PROJECT_DIR / "dags")).get_dag(dag_id)
    if dag is None:
        raise UserError(f"DAG {dag_id} not found in {PROJECT_DIR / 'dags'}")
    run = dag.test(run_conf=conf)
    return Outcome(run.run_id, str(run.state), f"airflow tasks states-for-dag-run {dag_id} '{run.run_id}'")


def _api_answers() -> bool:
    import requests

    try:
        return requests.get(f"{_api_base_url()}/api/v2/monitor/health", timeout=5).ok
    except requests.RequestException:
        return False


def run_dag(dag_id: str, conf: dict, token: str | None = None) -> Outcome:
    """Hand the run to Airflow when its scheduler and API are up; otherwise run it here.

    With a user's `token` (the Workspaces page, served by the api-server itself) the run is always
    handed to the REST API as that user, so Airflow's own permissions decide and nothing runs in the
    api-server's process."""
    if token is not None or (scheduler_alive() and _api_answers()):
        return _trigger_via_api(dag_id, conf, token)
    return run_here(dag_id, conf)
