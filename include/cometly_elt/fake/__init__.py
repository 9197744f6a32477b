"""Faithful fakes of the Cometly and Meta APIs, served from a scenario file (docs/scenarios.md).

- `cometly/`, `meta/`  the two APIs, one module per concern (docs/cometly-api.md §8, docs/meta-api.md §6)
- `server.py`          one process, one port: both APIs, the export files, the admin endpoints
- `admin.py`           the `/_fake` endpoints tests drive the fakes with
- `context.py`         what every part shares: the clock, the switches, the fault schedule, the call log
- `calls.py`           the call log, and the `Call` it and the fault schedule describe requests by
- `faults.py`          the scriptable fault schedule
- `scenario.py`        reading and checking scenario files; `generate.py` seeded worlds in that form
"""
