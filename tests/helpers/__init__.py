"""Helpers the test modules share, each module a pytest plugin (tests/conftest.py's `pytest_plugins`), so that
pytest rewrites their asserts and registers their fixtures; test modules import from here, never from each other."""
