-- Completion rate (GOV.UK Service Manual): transactions completed / transactions started, 0..1, per channel and
-- for the whole service ('all'). Started is optional in returns: not provided gives NULL, as do zero starts.
WITH by_channel AS (
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
        completion_rate(transactions_completed, transactions_started) AS completion_rate
    FROM (SELECT * FROM by_channel UNION ALL SELECT * FROM by_service)
)

SELECT * FROM final ORDER BY service_id, month, channel
