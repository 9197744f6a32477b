"""Airflow plugin: the Workspaces page (the product's Cometly card) in Airflow's navigation.

Wiring only: the page is `cometly_elt.webui`. Its app authenticates every route itself
(Airflow does not authenticate plugin apps).
"""

from airflow.plugins_manager import AirflowPlugin

from cometly_elt.webui import URL_PREFIX, WorkspacesApp


class CometlyWorkspacesPlugin(AirflowPlugin):
    name = "cometly_workspaces"
    fastapi_apps = [{"app": WorkspacesApp(), "url_prefix": URL_PREFIX, "name": "Cometly Workspaces"}]
    # Shown inside Airflow's UI (an iframe at /plugin/workspaces), as a button of the main navigation.
    external_views = [{"name": "Workspaces", "href": f"{URL_PREFIX}/", "url_route": "workspaces",
                       "destination": "nav", "nav_top_level": True}]
