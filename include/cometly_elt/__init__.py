"""Cometly attributed conversions as daily Meta campaign result metrics."""

__version__ = "0.1.0"
