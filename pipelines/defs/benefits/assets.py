"""Benefits: channel-shift savings and their roll-ups, benefits realisation, and the ministers' summary's figures.

Each table is rebuilt whole from the KPI marts and the benefits register by its SQL file in transforms/sql (the
formulas' one home): savings accumulate since a baseline and plans run to a target month, so a whole rebuild of
these small tables is both the simplest and the always-correct choice.
"""

from pipelines.lib.tables import table_assets

benefit_assets = table_assets("benefits")
