-- Cost per transaction (GOV.UK Service Manual): the total cost of providing the service (fixed and variable
-- costs, overheads included; start-up and enforcement costs excluded) divided by completed transactions, in GBP.
-- Per channel: the channel's direct cost plus the service's shared costs apportioned by the channel's share of
-- completed transactions (fct_service_month_channel); channel 'all' is the whole service.
-- Rolling 12 months (the official grain): the 12 months ending with `month`, only when all 12 have both figures.
-- Zero transactions give NULL; missing_inputs names what was not provided. A figure that would be 0 (costs of 0,
-- or a volume so large that it rounds to 0) is impossible: withheld, and missing_inputs says why.
-- Reported: a monthly return's own cost per transaction (the whole service, 'all'; its digital one, 'online') is
-- kept as sent in its reported column, beside the computed one and never mixed into it; cost_per_transaction_basis
-- says which to read: 'computed' where the figure can be formed from costs and volumes, else 'reported' where the
-- publisher reported one (a month with only reported figures has its row).
WITH by_channel AS (
    SELECT service_id, month, channel, cost_gbp, transactions_completed, cost_direct_gbp
    FROM fct_service_month_channel
),

by_service AS (
    SELECT service_id, month, 'all' AS channel, cost_gbp, transactions_completed, NULL AS cost_direct_gbp
    FROM fct_service_month
),

combined AS (
    SELECT * FROM by_channel UNION ALL SELECT * FROM by_service
),

reported_months AS (
    SELECT service_id, period_start AS month, reported_cost_per_transaction_gbp,
        reported_digital_cost_per_transaction_gbp
    FROM stg_transactions
    WHERE grain = 'month' AND channel = 'all'
        AND (reported_cost_per_transaction_gbp IS NOT NULL OR reported_digital_cost_per_transaction_gbp IS NOT NULL)
    QUALIFY row_number() OVER (PARTITION BY service_id, period_start ORDER BY month DESC) = 1
),

reported AS (
    SELECT service_id, month, 'all' AS channel, reported_cost_per_transaction_gbp AS reported_gbp
    FROM reported_months WHERE reported_cost_per_transaction_gbp IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'online', reported_digital_cost_per_transaction_gbp
    FROM reported_months WHERE reported_digital_cost_per_transaction_gbp IS NOT NULL
),

rolling AS (
    SELECT
        *,
        count(cost_gbp) OVER last_12_months AS months_with_cost,
        count(transactions_completed) OVER last_12_months AS months_with_volume,
        exact_sum(cost_gbp) OVER last_12_months AS cost_12m,
        CAST(sum(transactions_completed) OVER last_12_months AS BIGINT) AS completed_12m
    FROM combined
    WINDOW last_12_months AS (
        PARTITION BY service_id, channel ORDER BY month
        RANGE BETWEEN INTERVAL 11 MONTH PRECEDING AND CURRENT ROW
    )
),

with_reported AS (
    SELECT * FROM rolling FULL OUTER JOIN reported USING (service_id, month, channel)
),

final AS (
    SELECT
        service_id,
        month,
        channel,
        cost_gbp,
        transactions_completed,
        published_cost_per_transaction(cost_gbp, transactions_completed) AS cost_per_transaction_gbp,
        reported_gbp AS reported_cost_per_transaction_gbp,
        CASE WHEN published_cost_per_transaction(cost_gbp, transactions_completed) IS NOT NULL THEN 'computed'
            WHEN reported_gbp IS NOT NULL THEN 'reported' END AS cost_per_transaction_basis,
        CASE WHEN months_with_cost = 12 AND months_with_volume = 12 THEN round(cost_12m, 2) END
            AS rolling_12m_cost_gbp,
        CASE WHEN months_with_cost = 12 AND months_with_volume = 12 THEN completed_12m END
            AS rolling_12m_transactions_completed,
        CASE WHEN months_with_cost = 12 AND months_with_volume = 12
            THEN published_cost_per_transaction(cost_12m, completed_12m) END AS rolling_12m_cost_per_transaction_gbp,
        CASE
            WHEN transactions_completed IS NULL AND cost_gbp IS NULL THEN 'transactions and costs not provided'
            WHEN transactions_completed IS NULL THEN 'transactions not provided'
            WHEN cost_gbp IS NULL AND cost_direct_gbp IS NOT NULL
                THEN 'shared costs not apportioned: another channel''s volume not provided'
            WHEN cost_gbp IS NULL THEN 'costs not provided'
            ELSE cost_per_transaction_withheld(cost_gbp, transactions_completed)
        END AS missing_inputs
    FROM with_reported
)

SELECT * FROM final ORDER BY service_id, month, channel
