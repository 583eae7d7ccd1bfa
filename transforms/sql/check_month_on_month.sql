-- Month-on-month ratios of whole-service volume and cost per transaction, for the outlier warning:
-- this month's figure / the previous month's, where both exist. The key columns name each example.
SELECT
    service_id,
    month,
    channel,
    transactions_completed / NULLIF(lag(transactions_completed) OVER by_month, 0) AS volume_ratio,
    cost_per_transaction_gbp / NULLIF(lag(cost_per_transaction_gbp) OVER by_month, 0) AS cost_per_transaction_ratio
FROM kpi_cost_per_transaction
WHERE channel = 'all'
WINDOW by_month AS (PARTITION BY service_id ORDER BY month)
ORDER BY service_id, month
