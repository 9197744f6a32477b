"""Airflow plugin: the Workspaces page (the product's Cometly card) in Airflow's navigation.

Wiring only: the page is `cometly_elt.webui`. The app authenticates every route itself
(Airflow does not authenticate plugin apps).
"""

from airflow.plugins_manager import AirflowPlugin

from cometly_elt.webui import URL_PREFIX
from cometly_elt.webui.app import create_app


class CometlyWorkspacesPlugin(AirflowPlugin):
    name = "cometly_workspaces"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Cometly Workspaces"}]
    # Shown inside Airflow's UI (an iframe at /plugin/workspaces), in the main navigation.
    external_views = [{"name": "Workspaces", "href": f"{URL_PREFIX}/", "url_route": "workspaces",
                       "destination": "nav", "category": None}]
