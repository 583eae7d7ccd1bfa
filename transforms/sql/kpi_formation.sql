-- kpi_formation: for every service and period of the transactions staged, whether each KPI was formed (computed,
-- or as the publisher reported it) and, where not, why (the KPI table's missing_inputs, or what is absent). One row
-- per service x grain x period x KPI (digital take-up, cost per transaction, completion rate); kpis_not_formed adds
-- it up per source, and the preview (pipelines/preview.py) shows it per service.
WITH periods AS (
    SELECT DISTINCT agency_id, service_id, grain, period_start FROM stg_transactions
),

monthly AS (
    SELECT service_id, 'month' AS grain, month AS period_start, 'digital_take_up' AS kpi,
        digital_take_up_rate IS NOT NULL AS formed, missing_inputs
    FROM kpi_digital_take_up
    UNION ALL
    SELECT service_id, 'month', month, 'cost_per_transaction', cost_per_transaction_basis IS NOT NULL,
        missing_inputs
    FROM kpi_cost_per_transaction WHERE channel = 'all'
    UNION ALL
    SELECT service_id, 'month', month, 'completion_rate', completion_rate_basis IS NOT NULL,
        CASE WHEN transactions_started IS NULL THEN 'transactions started not provided' END
    FROM kpi_completion_rate WHERE channel = 'all'
),

submitted AS (
    SELECT * FROM kpi_by_period WHERE source = 'submitted' AND channel = 'all'
),

by_period AS (
    SELECT service_id, grain, period_start, 'digital_take_up' AS kpi, digital_take_up_rate IS NOT NULL AS formed,
        coalesce(missing_inputs, CASE WHEN digital_transactions_completed IS NULL
            THEN 'not provided: the online volume' END) AS missing_inputs
    FROM submitted
    UNION ALL
    SELECT service_id, grain, period_start, 'cost_per_transaction',
        coalesce(cost_per_transaction_gbp, reported_cost_per_transaction_gbp) IS NOT NULL,
        CASE WHEN cost_gbp IS NULL THEN 'costs not provided' ELSE missing_inputs END
    FROM submitted
    UNION ALL
    SELECT service_id, grain, period_start, 'completion_rate', coalesce(completion_rate, reported_completion_rate)
        IS NOT NULL, CASE WHEN transactions_started IS NULL THEN 'transactions started not provided' END
    FROM submitted
),

figures AS (
    SELECT * FROM monthly
    UNION ALL
    SELECT * FROM by_period
)

SELECT periods.agency_id, periods.service_id, periods.grain, periods.period_start, kpis.kpi,
    coalesce(figures.formed, FALSE) AS formed,
    CASE WHEN NOT coalesce(figures.formed, FALSE) THEN coalesce(figures.missing_inputs, 'no figure') END AS why_not
FROM periods
CROSS JOIN (VALUES ('digital_take_up'), ('cost_per_transaction'), ('completion_rate')) AS kpis (kpi)
LEFT JOIN figures USING (service_id, grain, period_start, kpi)
ORDER BY periods.agency_id, periods.service_id, periods.grain, periods.period_start, kpis.kpi
