"""Cometly's API as this project uses it: its vocabulary, DST-safe windows, extraction and loading."""
