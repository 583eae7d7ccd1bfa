"""Facts: one row per service x month x channel, and per service x month, for the months of the run."""

from pipelines.lib.tables import table_assets

fact_assets = table_assets("facts")
