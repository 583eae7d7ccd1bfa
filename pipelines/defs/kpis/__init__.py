"""KPI marts and roll-ups, each from its SQL file in transforms/sql."""
