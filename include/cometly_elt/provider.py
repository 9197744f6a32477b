"""Airflow provider metadata: registers the `cometly` and `meta_ads` connection types."""


def get_provider_info() -> dict:
    return {
        "package-name": "cometly-elt",
        "name": "Cometly ELT",
        "description": "Cometly attributed conversions and Meta Ads delivery for the warehouse.",
        "connection-types": [],
    }
