"""The fake Meta Graph (Marketing) API, serving a scenario's `meta` section (docs/scenarios.md §4).

It reproduces what docs/meta-api.md §6 lists: any `/vNN.N/` version, `/x` and `/x/`
alike, the token from the query, a form body or `Authorization: Bearer`; the account
node, `me/adaccounts`, the campaign/ad set/ad edges with opaque cursors and
hierarchy-consistent `effective_status`; ad-level daily insights in the account's
timezone, sync and as async report runs; Meta's error envelope (HTTP 400 for OAuth and
throttle errors, never 429) and its usage headers.

Generic faults (a status, a timeout, a reset, a cut body) belong to the server's fault
schedule. What only Meta does is scripted here, under paths the real API does not have:

- `POST /_fake/meta/settings` with any of the `Settings` fields (JSON);
- `POST /_fake/meta/report_runs` with `{"plans": [PLAN, ...]}`: how the next
  report runs behave, one plan each, then `completes` again (see RUN_PLANS);
- `GET /_fake/meta/settings` shows the settings in force.

One module per concern: `vocabulary` (levels, statuses, fields), `world` (accounts, the
tree, delivery, tokens), `requests` (reading a request), `errors` (the envelope),
`paging`, `filtering` (statuses and filters), `insights`, `report_runs`, `usage` (rate
limits and usage headers), `settings` (the scripted switches) and `graph` (routing).
"""

from cometly_elt.fake.meta.graph import MetaGraph, create_app

__all__ = ["MetaGraph", "create_app"]
