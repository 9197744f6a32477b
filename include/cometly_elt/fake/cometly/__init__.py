"""The fake Cometly public API: events, attribution, cursor pages, exports, rate limits.

It serves the `cometly` section of a scenario (docs/scenarios.md §2) the way
docs/cometly-api.md says the real service behaves: a Laravel application (Bearer auth,
422 validation bodies with an `errors` map, cursor paginator, throttle headers).
Mounted by the server under `/public-api/v1`. One module per concern:

- `vocabulary`  the names the API accepts (the fake's own copy, on purpose)
- `world`       a scenario's Spaces, events and touches
- `attribution` which touch gets an event's credit
- `events`      what a request selects and the rows it answers with
- `validation`  reading requests as Laravel's validator does (422)
- `paging`      Laravel's cursor paginator
- `throttle`    the per-Space, per-endpoint minute limits
- `exports`     export jobs and their files
- `auth`        API keys and subscriptions (401/403)
- `errors`      error answers
- `service`     the endpoints, each making the checks in the documented order
"""

from cometly_elt.fake.cometly.service import CometlyService, create_app

__all__ = ["CometlyService", "create_app"]
