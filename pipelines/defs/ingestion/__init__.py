"""Raw layer: every submission archived unchanged (file drops, HTTP APIs, Performance-Platform records)."""
