-- fct_service_month: one row per service x month, months in [$start, $end): the whole service's totals.
-- A total over channels is NULL when any offered channel's figure is not provided (DESIGN 4: never computed
-- silently over the part that is there); channels_not_provided names them.
WITH channels AS (
    SELECT * FROM fct_service_month_channel WHERE month >= $start AND month < $end
),

service_costs AS (
    SELECT service_id, month, exact_sum(cost_gbp) AS cost_gbp,
        exact_sum(CASE WHEN channel = 'shared' THEN cost_gbp END) AS cost_shared_gbp
    FROM stg_costs WHERE month >= $start AND month < $end AND grain = 'month' GROUP BY ALL
),

totals AS (
    SELECT
        service_id,
        any_value(agency_id) AS agency_id,
        month,
        CASE WHEN count(transactions_started) = count(*) THEN CAST(sum(transactions_started) AS BIGINT) END AS transactions_started,
        CASE WHEN count(transactions_completed) = count(*) THEN CAST(sum(transactions_completed) AS BIGINT) END
            AS transactions_completed,
        string_agg(channel, ';' ORDER BY channel) FILTER (WHERE transactions_completed IS NULL)
            AS channels_not_provided
    FROM channels GROUP BY service_id, month
),

final AS (
    SELECT
        totals.service_id,
        totals.agency_id,
        totals.month,
        totals.transactions_started,
        totals.transactions_completed,
        round(service_costs.cost_gbp, 2) AS cost_gbp,
        CASE WHEN service_costs.cost_gbp IS NOT NULL THEN round(coalesce(service_costs.cost_shared_gbp, 0), 2) END
            AS cost_shared_gbp,
        totals.channels_not_provided
    FROM totals LEFT JOIN service_costs USING (service_id, month)
)

SELECT * FROM final ORDER BY service_id, month
