"""KPI marts and roll-ups: each rebuilt whole from the facts by its SQL file in transforms/sql (the formula's one home).

They are small (services x months x channels) and rolling windows and baselines reach across months, so a whole
rebuild is both the simplest and the always-correct choice. A rebuild records the figures it changed in `revisions`.
"""

from pipelines.lib.tables import table_assets

kpi_assets = table_assets("kpis")
