"""The Workspaces page in Airflow's UI (mounted by plugins/cometly_workspaces.py).

Every Airflow process imports the plugins folder, task processes included (for plugin macros),
so what the plugin imports from here stays light: the page's app (FastAPI, Airflow's API
security) is built by the api-server on the first request.
"""

from __future__ import annotations

URL_PREFIX = "/workspaces"


class WorkspacesApp:
    """An ASGI app that builds `cometly_elt.webui.app.create_app()` when first called."""

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from cometly_elt.webui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return "cometly_elt.webui.WorkspacesApp"
