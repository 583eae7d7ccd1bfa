-- Roll-ups: each KPI for the whole government, each department and each agency, per month, always
-- volume-weighted (sum of numerators / sum of denominators over the services with a figure), never a mean of rates:
--   cost_per_transaction: sum(cost_gbp) / sum(transactions_completed), GBP;
--   digital_take_up: sum(digital_transactions_completed) / sum(transactions_completed), 0..1;
--   completion_rate: sum(transactions_completed) / sum(transactions_started), 0..1;
--   user_satisfaction: satisfaction_score weighted by responses, 0..1 (the GOV.UK score of all the ratings pooled);
--   take_up_change_since_baseline: take_up_change_pp weighted by transactions completed now, percentage points;
--   shifted_transactions: the sum of shifted_transactions, transactions.
-- Coverage: services_reporting / services_expected (the group's services in the catalogue).
-- Like-for-like: change_vs_previous_month compares this month with the month before over only the services with a
-- figure in both (like_for_like_services), in percent for cost per transaction, otherwise in percentage points
-- (or transactions). A user-satisfaction figure from fewer responses than the publication threshold is suppressed
-- (formulas.sql), and so is its change when either month compared has too few.
-- Sums are exact decimal sums: the same inputs give the same bits whatever order the rows are added in.
WITH catalogue AS (
    SELECT service_id, agency_id, department FROM stg_service_catalogue
),

measures AS (
    SELECT service_id, month, 'cost_per_transaction' AS kpi, cost_gbp AS numerator,
        transactions_completed AS denominator
    FROM kpi_cost_per_transaction WHERE channel = 'all' AND cost_per_transaction_gbp IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'digital_take_up', digital_transactions_completed, transactions_completed
    FROM kpi_digital_take_up WHERE digital_take_up_rate IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'completion_rate', transactions_completed, transactions_started
    FROM kpi_completion_rate WHERE channel = 'all' AND completion_rate IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'user_satisfaction', satisfaction_score * responses, responses
    FROM kpi_user_satisfaction WHERE channel = 'all' AND satisfaction_score IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'take_up_change_since_baseline', take_up_change_pp * transactions_completed,
        transactions_completed
    FROM kpi_digital_take_up WHERE take_up_change_pp IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'shifted_transactions', shifted_transactions, NULL
    FROM kpi_digital_take_up WHERE shifted_transactions IS NOT NULL
),

paired AS (
    SELECT now.*, before.numerator AS previous_numerator, before.denominator AS previous_denominator,
        before.service_id IS NOT NULL AS like_for_like
    FROM measures AS now
    LEFT JOIN measures AS before
        ON before.service_id = now.service_id AND before.kpi = now.kpi
        AND before.month = CAST(now.month - INTERVAL 1 MONTH AS DATE)
),

grouped AS (
    SELECT 'government' AS level, 'all' AS group_id, paired.* FROM paired JOIN catalogue USING (service_id)
    UNION ALL
    SELECT 'department', catalogue.department, paired.* FROM paired JOIN catalogue USING (service_id)
    UNION ALL
    SELECT 'agency', catalogue.agency_id, paired.* FROM paired JOIN catalogue USING (service_id)
),

sums AS (
    SELECT
        level, group_id, month, kpi,
        count(*) AS services_reporting,
        exact_sum(numerator) AS numerator,
        exact_sum(denominator) AS denominator,
        count(*) FILTER (WHERE like_for_like) AS like_for_like_services,
        exact_sum(CASE WHEN like_for_like THEN numerator END) AS like_for_like_numerator,
        exact_sum(CASE WHEN like_for_like THEN denominator END) AS like_for_like_denominator,
        exact_sum(previous_numerator) AS previous_numerator,
        exact_sum(previous_denominator) AS previous_denominator
    FROM grouped GROUP BY ALL
),

groups AS (
    SELECT 'government' AS level, 'all' AS group_id, 'All services' AS group_name, count(*) AS services_expected
    FROM catalogue
    UNION ALL
    SELECT 'department', department, department, count(*) FROM catalogue GROUP BY department
    UNION ALL
    SELECT 'agency', catalogue.agency_id, coalesce(any_value(stg_agencies.agency_name), catalogue.agency_id),
        count(*)
    FROM catalogue LEFT JOIN stg_agencies USING (agency_id) GROUP BY catalogue.agency_id
),

kpis AS (
    SELECT * FROM (VALUES
        (1, 'cost_per_transaction', 'GBP', 'percent'),
        (2, 'digital_take_up', '0..1', 'percentage points'),
        (3, 'completion_rate', '0..1', 'percentage points'),
        (4, 'user_satisfaction', '0..1', 'percentage points'),
        (5, 'take_up_change_since_baseline', 'percentage points', 'percentage points'),
        (6, 'shifted_transactions', 'transactions', 'transactions')
    ) AS k (kpi_order, kpi, unit, change_unit)
),

months AS (
    SELECT DISTINCT month FROM measures
),

grid AS (
    SELECT * FROM groups CROSS JOIN months CROSS JOIN kpis
),

valued AS (
    SELECT
        grid.*,
        coalesce(sums.services_reporting, 0) AS services_reporting,
        coalesce(sums.like_for_like_services, 0) AS like_for_like_services,
        sums.denominator,
        CASE WHEN grid.kpi = 'shifted_transactions' THEN sums.numerator
            ELSE sums.numerator / NULLIF(sums.denominator, 0) END AS value,
        CASE WHEN grid.kpi = 'shifted_transactions' THEN sums.like_for_like_numerator
            ELSE sums.like_for_like_numerator / NULLIF(sums.like_for_like_denominator, 0) END AS value_like_for_like,
        CASE WHEN grid.kpi = 'shifted_transactions' THEN sums.previous_numerator
            ELSE sums.previous_numerator / NULLIF(sums.previous_denominator, 0) END AS previous_value_like_for_like,
        CASE WHEN grid.kpi = 'user_satisfaction' THEN sums.denominator END AS responses,
        CASE WHEN grid.kpi = 'user_satisfaction'
            THEN least(sums.like_for_like_denominator, sums.previous_denominator) END AS fewest_responses_compared
    FROM grid
    LEFT JOIN sums USING (level, group_id, month, kpi)
),

final AS (
    SELECT
        level,
        group_id,
        group_name,
        month,
        printf('%d-%02d', year(month - INTERVAL 3 MONTH), (year(month - INTERVAL 3 MONTH) + 1) % 100) AS financial_year,
        kpi_order,
        kpi,
        unit,
        satisfaction_published(CASE WHEN kpi = 'cost_per_transaction' THEN round(value, 4) ELSE value END,
            responses) AS value,
        services_expected,
        services_reporting,
        services_reporting / services_expected AS coverage,
        like_for_like_services,
        satisfaction_published(satisfaction_published(
            CASE
                WHEN change_unit = 'percent' THEN (value_like_for_like / NULLIF(previous_value_like_for_like, 0) - 1) * 100
                WHEN unit = '0..1' THEN (value_like_for_like - previous_value_like_for_like) * 100
                ELSE value_like_for_like - previous_value_like_for_like
            END, responses), fewest_responses_compared) AS change_vs_previous_month,
        change_unit,
        coalesce(suppression_note(responses),
                 'change ' || suppression_note(fewest_responses_compared) || ' in a month compared') AS suppression_note
    FROM valued
)

SELECT * FROM final ORDER BY level, group_id, month, kpi_order
