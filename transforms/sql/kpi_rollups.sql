-- Roll-ups: each KPI for the whole government, each department and each agency, per month, always
-- volume-weighted (sum of numerators / sum of denominators over the services with a figure), never a mean of rates:
--   cost_per_transaction: sum(cost_gbp) / sum(transactions_completed), GBP;
--   digital_take_up: sum(digital_transactions_completed) / sum(transactions_completed), 0..1;
--   completion_rate: sum(transactions_completed) / sum(transactions_started), 0..1;
--   user_satisfaction: satisfaction_score weighted by responses, 0..1 (the GOV.UK score of all the ratings pooled);
--   take_up_change_since_baseline: take_up_change_pp weighted by transactions completed now, percentage points;
--   shifted_transactions: the sum of shifted_transactions, transactions.
-- Coverage: services_reporting / services_expected (the group's services in the catalogue that had begun by then).
-- Like-for-like: change_vs_previous_month compares this month with the month before over only the services with a
-- figure in both (like_for_like_services), in percent for cost per transaction, otherwise in percentage points
-- (or transactions). A user-satisfaction figure from fewer responses than the publication threshold is suppressed
-- (fewer than 30), and so is its change when either month compared has too few.
-- Sums are exact decimal sums: the same inputs give the same bits whatever order the rows are added in.

-- The definition above is published; the figures come from the one roll-up, kpi_rollups_all_grains.sql, at the
-- month grain.
SELECT
    level,
    group_id,
    group_name,
    period_start AS month,
    period_name('financial_year', period_start - INTERVAL 3 MONTH, NULL) AS financial_year,  -- April to March
    kpi_order,
    kpi,
    unit,
    value,
    services_expected,
    services_reporting,
    coverage,
    like_for_like_services,
    change_vs_previous AS change_vs_previous_month,
    change_unit,
    suppression_note
FROM kpi_rollups_all_grains WHERE grain = 'month'
ORDER BY level, group_id, month, kpi_order
