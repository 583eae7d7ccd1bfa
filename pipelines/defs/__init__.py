"""The stages of the flow, one folder each, loaded by Dagster's load_from_defs_folder."""
