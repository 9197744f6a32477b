"""Faithful fakes of the Cometly and Meta APIs, served from a scenario file (docs/scenarios.md)."""
