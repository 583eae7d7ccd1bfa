-- Channel-shift savings rolled up by agency, department and government, per month (GBP; the formulas are in
-- channel_shift_savings). A service counts in a month only when it has both savings that month, so the two
-- measures always cover the same services; services_in_scope are the services with a channel-shift baseline by
-- then (an online channel and a take-up figure), and coverage_share = services_reporting / services_in_scope.
-- Cumulative columns add each reporting service's own cumulative saving since its baseline month.
-- same_services_as_previous_month: whether the reporting services are exactly those of the month before
-- (like-for-like); a change between months is only comparable when it is true.
WITH services AS (
    SELECT
        *,
        theoretical_saving_gbp IS NOT NULL AND counterfactual_saving_gbp IS NOT NULL AS reporting
    FROM channel_shift_savings
),

levels AS (
    SELECT 'agency' AS level, agency_id AS group_id, * FROM services
    UNION ALL
    SELECT 'department' AS level, department AS group_id, * FROM services
    UNION ALL
    SELECT 'government' AS level, 'all' AS group_id, * FROM services
),

grouped AS (
    SELECT
        level,
        group_id,
        month,
        count(*) AS services_in_scope,
        count(*) FILTER (WHERE reporting) AS services_reporting,
        exact_sum(CASE WHEN reporting THEN theoretical_saving_gbp END) AS theoretical_saving_gbp,
        exact_sum(CASE WHEN reporting THEN counterfactual_saving_gbp END) AS counterfactual_saving_gbp,
        exact_sum(CASE WHEN reporting THEN theoretical_saving_cumulative_gbp END) AS theoretical_saving_cumulative_gbp,
        exact_sum(CASE WHEN reporting THEN counterfactual_saving_cumulative_gbp END) AS counterfactual_saving_cumulative_gbp,
        string_agg(service_id, ';' ORDER BY service_id) FILTER (WHERE reporting) AS reporting_services
    FROM levels
    GROUP BY level, group_id, month
),

final AS (
    SELECT
        level,
        group_id,
        month,
        services_in_scope,
        services_reporting,
        round(services_reporting / services_in_scope, 4) AS coverage_share,
        round(theoretical_saving_gbp, 2) AS theoretical_saving_gbp,
        round(counterfactual_saving_gbp, 2) AS counterfactual_saving_gbp,
        round(theoretical_saving_cumulative_gbp, 2) AS theoretical_saving_cumulative_gbp,
        round(counterfactual_saving_cumulative_gbp, 2) AS counterfactual_saving_cumulative_gbp,
        CASE WHEN lag(month) OVER previous = CAST(month - INTERVAL 1 MONTH AS DATE)
            THEN (reporting_services IS NOT DISTINCT FROM lag(reporting_services) OVER previous)
        END AS same_services_as_previous_month
    FROM grouped
    WINDOW previous AS (PARTITION BY level, group_id ORDER BY month)
)

SELECT * FROM final ORDER BY level, group_id, month
