"""Airflow provider metadata: registers the `cometly` and `meta_ads` connection types.

Airflow 3 plugins cannot add connection types; this entry point (see
pyproject.toml) gives the UI a form and a working Test button for each.
Airflow 3.3's UI builds the form from this metadata without importing the
hooks, so the forms are declared here and the hooks read them back.
"""

_FORMS = {
    "cometly": {
        "hidden-fields": ["login", "port", "schema", "extra"],
        "relabeling": {"host": "Base URL", "password": "API key"},
        "placeholders": {"host": "https://app.cometly.com/public-api/v1",
                         "password": "key from Cometly → Integrations → API"},
    },
    "meta_ads": {
        "hidden-fields": ["schema", "port", "login"],
        "relabeling": {"host": "Graph API base URL", "password": "Access token"},
        "placeholders": {"host": "https://graph.facebook.com", "password": "a system user token with ads_read",
                         "extra": '{"ad_account_id": "act_123", "page_size": 100, "max_wait_seconds": 600}'},
    },
}


def connection_form(conn_type: str) -> dict:
    """The form as a hook's `get_ui_field_behaviour()` returns it (snake_case keys)."""
    return {key.replace("-", "_"): value for key, value in _FORMS[conn_type].items()}


def get_provider_info() -> dict:
    return {
        "package-name": "cometly-elt",
        "name": "Cometly ELT",
        "description": "Cometly attributed conversions and Meta Ads delivery for the warehouse.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"connection-type": "cometly", "hook-class-name": "cometly_elt.hooks.cometly.CometlyHook",
             "hook-name": "Cometly", "ui-field-behaviour": _FORMS["cometly"]},
            {"connection-type": "meta_ads", "hook-class-name": "cometly_elt.hooks.meta.MetaAdsHook",
             "hook-name": "Meta Ads", "ui-field-behaviour": _FORMS["meta_ads"]},
        ],
    }
