"""Airflow provider metadata: registers the `cometly` and `meta_ads` connection types.

Airflow 3 plugins cannot add connection types; this entry point (see
pyproject.toml) gives the UI a form and a working Test button for each.
"""


def get_provider_info() -> dict:
    return {
        "package-name": "cometly-elt",
        "name": "Cometly ELT",
        "description": "Cometly attributed conversions and Meta Ads delivery for the warehouse.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"connection-type": "cometly", "hook-class-name": "cometly_elt.hooks.cometly.CometlyHook"},
            {"connection-type": "meta_ads", "hook-class-name": "cometly_elt.hooks.meta.MetaAdsHook"},
        ],
    }
