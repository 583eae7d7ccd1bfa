-- The channel-shift saving of a summary's period and what the same services cost: over the services that
-- benefits_summary_figures counts (both savings measures in every month of the period), from channel_shift_savings.
-- Parameters: the published channel_shift_savings file, the period's first month, its last month.
WITH period_rows AS (
    SELECT service_id, cost_gbp, counterfactual_saving_gbp, theoretical_saving_gbp
    FROM read_parquet($1)
    WHERE month BETWEEN $2 AND $3
),

counted AS (
    SELECT service_id
    FROM period_rows
    GROUP BY service_id
    HAVING count(counterfactual_saving_gbp) FILTER (WHERE theoretical_saving_gbp IS NOT NULL)
        = date_diff('month', $2::DATE, $3::DATE) + 1
)

SELECT
    count(DISTINCT service_id) AS services,
    sum(counterfactual_saving_gbp) AS saving_gbp,
    sum(cost_gbp) AS cost_gbp
FROM period_rows
WHERE service_id IN (SELECT service_id FROM counted)
