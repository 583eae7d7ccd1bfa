-- Service summary: one row per service in the catalogue, at its own grain: a service with monthly figures in the
-- latest month with any figure; a service that reports only quarters or years (no monthly row) in its latest
-- period of kpi_by_period (the latest to end; of those ending together, the longest, so a rolling year before its
-- last quarter), named as a period (period_name: March 2025, 2018-19, Q4 2015-16 (Jan-Mar 2016), 12 months to Sep 2017). Each KPI as its own
-- table defines it (channel 'all'), beside the same figure 12 months earlier:
--   cost_per_transaction_change_12m_pct = (cost per transaction now / 12 months earlier - 1) x 100, percent;
--   digital_take_up_change_12m_pp = (take-up now - take-up 12 months earlier) x 100, percentage points.
-- A figure not provided stays NULL (no data), never 0. A user-satisfaction figure from fewer responses than the
-- publication threshold is published empty, with suppression_note saying so (catalogue: Table.satisfaction).
WITH latest AS (
    SELECT max(month) AS month FROM kpi_cost_per_transaction
),

monthly_services AS (
    SELECT DISTINCT service_id FROM kpi_cost_per_transaction
),

by_period AS (
    -- a return due that never came has no figure: the latest period is the latest with figures
    SELECT * FROM kpi_by_period WHERE channel = 'all' AND source <> 'not_received'
    QUALIFY row_number() OVER (PARTITION BY service_id, grain, period_start
                               ORDER BY source = 'submitted' DESC, source) = 1
),

latest_period AS (
    SELECT * FROM by_period
    WHERE service_id NOT IN (SELECT service_id FROM monthly_services)
    QUALIFY row_number() OVER (PARTITION BY service_id ORDER BY period_end DESC, period_start) = 1
),

period_figures AS (
    SELECT now.service_id, now.grain, now.period_start, now.period_end,
        CAST(date_trunc('month', now.period_end) AS DATE) AS period_month,
        period_name(now.grain, now.period_start, now.period_end) AS period_name,
        now.transactions_completed, now.cost_per_transaction_gbp, now.reported_cost_per_transaction_gbp,
        before.cost_per_transaction_gbp AS cost_per_transaction_12m_earlier_gbp,
        now.digital_take_up_rate, before.digital_take_up_rate AS digital_take_up_12m_earlier,
        now.completion_rate, now.responses, now.satisfaction_score
    FROM latest_period AS now
    LEFT JOIN by_period AS before
        ON before.service_id = now.service_id AND before.grain = now.grain
        AND before.period_start = CAST(now.period_start - INTERVAL 12 MONTH AS DATE)
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
    SELECT service_id, month, transactions_completed, cost_per_transaction_gbp, reported_cost_per_transaction_gbp,
        rolling_12m_cost_per_transaction_gbp
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
        coalesce(p.grain, 'month') AS grain,
        coalesce(p.period_start, catalogue.month) AS period_start,
        coalesce(p.period_end, CAST(catalogue.month + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE)) AS period_end,
        coalesce(p.period_name, period_name('month', catalogue.month, catalogue.month)) AS period_name,
        coalesce(p.period_month, catalogue.month) AS month,
        coalesce(p.transactions_completed, cost.transactions_completed) AS transactions_completed,
        coalesce(p.cost_per_transaction_gbp, cost.cost_per_transaction_gbp) AS cost_per_transaction_gbp,
        coalesce(p.reported_cost_per_transaction_gbp, cost.reported_cost_per_transaction_gbp)
            AS reported_cost_per_transaction_gbp,
        cost.rolling_12m_cost_per_transaction_gbp,
        coalesce(p.cost_per_transaction_12m_earlier_gbp, cost_before.cost_per_transaction_gbp)
            AS cost_per_transaction_12m_earlier_gbp,
        (coalesce(p.cost_per_transaction_gbp, cost.cost_per_transaction_gbp)
            / NULLIF(coalesce(p.cost_per_transaction_12m_earlier_gbp, cost_before.cost_per_transaction_gbp), 0) - 1)
            * 100 AS cost_per_transaction_change_12m_pct,
        coalesce(p.digital_take_up_rate, take_up.digital_take_up_rate) AS digital_take_up_rate,
        take_up.take_up_change_pp,
        (coalesce(p.digital_take_up_rate, take_up.digital_take_up_rate)
            - coalesce(p.digital_take_up_12m_earlier, take_up_before.digital_take_up_rate)) * 100
            AS digital_take_up_change_12m_pp,
        coalesce(p.completion_rate, completion.completion_rate) AS completion_rate,
        coalesce(p.responses, satisfaction.responses) AS satisfaction_responses,
        coalesce(p.satisfaction_score, satisfaction.satisfaction_score) AS satisfaction_score
    FROM catalogue
    LEFT JOIN period_figures AS p USING (service_id)
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
