-- Service summary: one row per service in the catalogue for the latest month with any figure, each KPI as its own
-- table defines it (channel 'all'), beside the same figure 12 months earlier:
--   cost_per_transaction_change_12m_pct = (cost per transaction now / 12 months earlier - 1) x 100, percent;
--   digital_take_up_change_12m_pp = (take-up now - take-up 12 months earlier) x 100, percentage points.
-- A figure not provided stays NULL (no data), never 0. A user-satisfaction figure from fewer responses than the
-- publication threshold is suppressed (NULL, with suppression_note saying so).
WITH latest AS (
    SELECT max(month) AS month FROM kpi_cost_per_transaction
),

catalogue AS (
    SELECT catalogue.service_id, catalogue.service_name, catalogue.agency_id,
        coalesce(stg_agencies.agency_name, catalogue.agency_id) AS agency_name, catalogue.department,
        catalogue.category, catalogue.customer_type, catalogue.high_volume, latest.month,
        CAST(latest.month - INTERVAL 12 MONTH AS DATE) AS month_a_year_earlier
    FROM stg_service_catalogue AS catalogue
    CROSS JOIN latest
    LEFT JOIN stg_agencies USING (agency_id)
),

cost AS (
    SELECT service_id, month, transactions_completed, cost_per_transaction_gbp, rolling_12m_cost_per_transaction_gbp
    FROM kpi_cost_per_transaction WHERE channel = 'all'
),

take_up AS (
    SELECT service_id, month, digital_take_up_rate, take_up_change_pp FROM kpi_digital_take_up
),

completion AS (
    SELECT service_id, month, completion_rate FROM kpi_completion_rate WHERE channel = 'all'
),

satisfaction AS (
    SELECT service_id, month, responses, satisfaction_score FROM kpi_user_satisfaction WHERE channel = 'all'
),

final AS (
    SELECT
        catalogue.service_id,
        catalogue.service_name,
        catalogue.agency_id,
        catalogue.agency_name,
        catalogue.department,
        catalogue.category,
        catalogue.customer_type,
        catalogue.high_volume,
        catalogue.month,
        cost.transactions_completed,
        cost.cost_per_transaction_gbp,
        cost.rolling_12m_cost_per_transaction_gbp,
        cost_before.cost_per_transaction_gbp AS cost_per_transaction_12m_earlier_gbp,
        (cost.cost_per_transaction_gbp / NULLIF(cost_before.cost_per_transaction_gbp, 0) - 1) * 100
            AS cost_per_transaction_change_12m_pct,
        take_up.digital_take_up_rate,
        take_up.take_up_change_pp,
        (take_up.digital_take_up_rate - take_up_before.digital_take_up_rate) * 100 AS digital_take_up_change_12m_pp,
        completion.completion_rate,
        satisfaction.responses AS satisfaction_responses,
        CASE WHEN satisfaction.responses >= $min_responses THEN satisfaction.satisfaction_score END
            AS satisfaction_score,
        CASE WHEN satisfaction.responses < $min_responses
            THEN 'suppressed: fewer than ' || $min_responses || ' responses' END AS suppression_note
    FROM catalogue
    LEFT JOIN cost USING (service_id, month)
    LEFT JOIN cost AS cost_before
        ON cost_before.service_id = catalogue.service_id AND cost_before.month = catalogue.month_a_year_earlier
    LEFT JOIN take_up USING (service_id, month)
    LEFT JOIN take_up AS take_up_before
        ON take_up_before.service_id = catalogue.service_id AND take_up_before.month = catalogue.month_a_year_earlier
    LEFT JOIN completion USING (service_id, month)
    LEFT JOIN satisfaction USING (service_id, month)
)

SELECT * FROM final ORDER BY service_id
