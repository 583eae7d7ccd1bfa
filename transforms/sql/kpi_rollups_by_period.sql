-- Roll-ups at the grains coarser than a month: each KPI of kpi_by_period for the whole government, each
-- department and each agency, per grain (quarter, financial_year, rolling_12_months, span) and period (period_name:
-- Q4 2015-16 (Jan-Mar 2016), 2018-19), always
-- volume-weighted (sum of numerators / sum of denominators over the services with a figure), never a mean of rates:
--   cost_per_transaction: sum(cost_gbp) / sum(transactions_completed), GBP;
--   reported_cost_per_transaction: sum(reported CPT x transactions completed) / sum(transactions completed), GBP,
--       from the publishers' own figures, kept apart from the computed one;
--   digital_take_up: sum(digital_transactions_completed) / sum(transactions_completed), 0..1;
--   completion_rate: sum(transactions_completed) / sum(transactions_started), 0..1;
--   user_satisfaction: satisfaction_score weighted by responses, 0..1.
-- One figure per service and period: the one the agency sent for that grain when there is one, else the one rolled
-- up from its months (or quarters). Rows exist only for grains and periods that have data. Like-for-like:
-- change_vs_previous_period compares with the previous period of the same grain (the one before it; a year
-- earlier for rolling 12 months) over only the services with a figure in both. A user-satisfaction figure (value,
-- numerator, denominator) from fewer responses than the publication threshold is suppressed (fewer than 30), and so is
-- its change when either period compared has too few; suppression_note says which.

-- The definition above is published; the figures come from the one roll-up, kpi_rollups_all_grains.sql, at its
-- grains coarser than a month.
SELECT * EXCLUDE (change_vs_previous, change_unit, suppression_note),
    change_vs_previous AS change_vs_previous_period, change_unit, suppression_note
FROM kpi_rollups_all_grains WHERE grain <> 'month'
ORDER BY level, group_id, grain, period_start, kpi_order
