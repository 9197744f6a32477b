"""The Workspaces page in Airflow's UI (mounted by plugins/cometly_workspaces.py)."""

URL_PREFIX = "/workspaces"
