-- Agency x month pairs with no return at all, between each agency's first and the latest month received.
WITH received AS (
    SELECT DISTINCT agency_id, month FROM raw_submissions WHERE agency_id IS NOT NULL
),

expected AS (
    SELECT agency_id, CAST(range AS DATE) AS month
    FROM (SELECT agency_id, min(month) AS first_month FROM received GROUP BY agency_id)
    CROSS JOIN (SELECT max(month) AS last_month FROM received)
    CROSS JOIN range(first_month, last_month + INTERVAL 1 MONTH, INTERVAL 1 MONTH)
)

SELECT agency_id, month FROM expected
ANTI JOIN received USING (agency_id, month)
ORDER BY agency_id, month
