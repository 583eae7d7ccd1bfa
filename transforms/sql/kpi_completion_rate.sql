-- Completion rate (GOV.UK Service Manual): transactions completed / transactions started, 0..1, per channel and
-- for the whole service ('all'). Started is optional in returns: not provided gives NULL, as do zero starts.
-- Reported: a monthly return's own completion rate for the whole service is kept as sent in
-- reported_completion_rate, never mixed into completion_rate; completion_rate_basis says which to read:
-- 'computed' where completed / started can be formed, else 'reported' where the publisher reported one (a month
-- with only a reported rate has its row).
WITH reported AS (
    SELECT service_id, period_start AS month, 'all' AS channel, reported_completion_rate
    FROM stg_transactions
    WHERE grain = 'month' AND channel = 'all' AND reported_completion_rate IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY service_id, period_start ORDER BY month DESC) = 1
),

by_channel AS (
    SELECT service_id, month, channel, transactions_started, transactions_completed FROM fct_service_month_channel
),

by_service AS (
    SELECT service_id, month, 'all' AS channel, transactions_started, transactions_completed FROM fct_service_month
),

final AS (
    SELECT
        service_id,
        month,
        channel,
        transactions_started,
        transactions_completed,
        completion_rate(transactions_completed, transactions_started) AS completion_rate,
        reported_completion_rate,
        CASE WHEN completion_rate(transactions_completed, transactions_started) IS NOT NULL THEN 'computed'
            WHEN reported_completion_rate IS NOT NULL THEN 'reported' END AS completion_rate_basis
    FROM (SELECT * FROM by_channel UNION ALL SELECT * FROM by_service)
    FULL OUTER JOIN reported USING (service_id, month, channel)
)

SELECT * FROM final ORDER BY service_id, month, channel
