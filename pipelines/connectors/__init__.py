"""Connectors: fetch an agency's submission from where it lives (HTTP API, Performance-Platform records) as bytes."""
