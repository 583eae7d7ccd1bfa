-- Reported against computed (DESIGN 3, "reported values are first-class"): where a publisher reported a figure for
-- a period and the same figure can be computed from its inputs, the two should agree. Returns the figures that
-- differ by more than 1% of the computed value, for the warning check `reported_figures_agree`: a cost per
-- transaction, a completion rate, or a reported total beside the channels' sum, for periods (kpi_by_period) and
-- months (kpi_cost_per_transaction: the whole service and its digital channel; kpi_completion_rate). Neither
-- replaces the other.
WITH pairs AS (
    SELECT service_id, grain, period_start, 'cost_per_transaction_gbp' AS figure,
        reported_cost_per_transaction_gbp AS reported, cost_per_transaction_gbp AS computed
    FROM kpi_by_period WHERE channel = 'all' AND source = 'submitted'
    UNION ALL
    SELECT service_id, grain, period_start, 'completion_rate', reported_completion_rate, completion_rate
    FROM kpi_by_period WHERE channel = 'all' AND source = 'submitted'
    UNION ALL
    SELECT service_id, grain, period_start, 'transactions_completed', reported_transactions_completed,
        transactions_completed
    FROM kpi_by_period WHERE channel = 'all' AND source = 'submitted' AND total_basis = 'channels'
    UNION ALL
    SELECT service_id, 'month', month, CASE channel WHEN 'all' THEN 'cost_per_transaction_gbp'
            ELSE 'digital_cost_per_transaction_gbp' END, reported_cost_per_transaction_gbp, cost_per_transaction_gbp
    FROM kpi_cost_per_transaction WHERE channel IN ('all', 'online')
    UNION ALL
    SELECT service_id, 'month', month, 'completion_rate', reported_completion_rate, completion_rate
    FROM kpi_completion_rate WHERE channel = 'all'
)

SELECT service_id, grain, period_start, figure, reported, computed
FROM pairs
WHERE reported IS NOT NULL AND computed IS NOT NULL AND abs(reported - computed) > 0.01 * abs(computed)
ORDER BY service_id, grain, period_start, figure
