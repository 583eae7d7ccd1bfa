-- Roll-ups at the grains coarser than a month: each KPI of kpi_by_period for the whole government, each
-- department and each agency, per grain (quarter, financial_year, rolling_12_months, span) and period (period_name:
-- Q1 2016, 2018-19), always
-- volume-weighted (sum of numerators / sum of denominators over the services with a figure), never a mean of rates:
--   cost_per_transaction: sum(cost_gbp) / sum(transactions_completed), GBP;
--   reported_cost_per_transaction: sum(reported CPT x transactions completed) / sum(transactions completed), GBP,
--       from the publishers' own figures, kept apart from the computed one;
--   digital_take_up: sum(digital_transactions_completed) / sum(transactions_completed), 0..1;
--   completion_rate: sum(transactions_completed) / sum(transactions_started), 0..1;
--   user_satisfaction: satisfaction_score weighted by responses, 0..1.
-- One figure per service and period: the one the agency sent for that grain when there is one, else the one rolled
-- up from its months (or quarters). Rows exist only for grains and periods that have data. Like-for-like:
-- change_vs_previous_period compares with the previous period of the same grain (the one before it; a year
-- earlier for rolling 12 months) over only the services with a figure in both. A user-satisfaction figure (value,
-- numerator, denominator) from fewer responses than the publication threshold is suppressed (formulas.sql), and so is
-- its change when either period compared has too few; suppression_note says which.
WITH catalogue AS (
    SELECT service_id, agency_id, department FROM stg_service_catalogue
),

periods AS (
    -- a return due that never came has no figure (and never shadows one rolled up from months)
    SELECT * FROM kpi_by_period WHERE channel = 'all' AND source <> 'not_received'
    QUALIFY row_number() OVER (PARTITION BY service_id, grain, period_start
                               ORDER BY source = 'submitted' DESC, source) = 1
),

measures AS (
    SELECT service_id, grain, period_start, period_end, 'cost_per_transaction' AS kpi, cost_gbp AS numerator,
        transactions_completed AS denominator
    FROM periods WHERE cost_per_transaction_gbp IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'reported_cost_per_transaction',
        reported_cost_per_transaction_gbp * transactions_completed, transactions_completed
    FROM periods WHERE reported_cost_per_transaction_gbp IS NOT NULL AND transactions_completed IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'digital_take_up', digital_transactions_completed,
        transactions_completed
    FROM periods WHERE digital_take_up_rate IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'completion_rate', transactions_completed,
        transactions_started
    FROM periods WHERE completion_rate IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'user_satisfaction', satisfaction_score * responses,
        responses
    FROM periods WHERE satisfaction_score IS NOT NULL
),

-- Sums in exact decimals, so the same inputs give the same figures whatever order the rows are added in.
exact AS (
    SELECT service_id, grain, period_start, period_end, kpi, CAST(numerator AS DECIMAL(38, 12)) AS numerator,
        CAST(denominator AS DECIMAL(38, 12)) AS denominator
    FROM measures
),

paired AS (
    SELECT now.*, before.numerator AS previous_numerator, before.denominator AS previous_denominator,
        before.service_id IS NOT NULL AS like_for_like
    FROM exact AS now
    LEFT JOIN exact AS before
        ON before.service_id = now.service_id AND before.kpi = now.kpi AND before.grain = now.grain
        AND before.period_start = CAST(now.period_start - CASE now.grain WHEN 'quarter' THEN INTERVAL 3 MONTH
            ELSE INTERVAL 12 MONTH END AS DATE)
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
        level, group_id, grain, period_start, any_value(period_end) AS period_end, kpi,
        count(*) AS services_reporting,
        CAST(sum(numerator) AS DOUBLE) AS numerator,
        CAST(sum(denominator) AS DOUBLE) AS denominator,
        count(*) FILTER (WHERE like_for_like) AS like_for_like_services,
        CAST(sum(numerator) FILTER (WHERE like_for_like) AS DOUBLE) AS like_for_like_numerator,
        CAST(sum(denominator) FILTER (WHERE like_for_like) AS DOUBLE) AS like_for_like_denominator,
        CAST(sum(previous_numerator) AS DOUBLE) AS previous_numerator,
        CAST(sum(previous_denominator) AS DOUBLE) AS previous_denominator
    FROM grouped GROUP BY level, group_id, grain, period_start, kpi
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
        (2, 'reported_cost_per_transaction', 'GBP', 'percent'),
        (3, 'digital_take_up', '0..1', 'percentage points'),
        (4, 'completion_rate', '0..1', 'percentage points'),
        (5, 'user_satisfaction', '0..1', 'percentage points')
    ) AS k (kpi_order, kpi, unit, change_unit)
),

counted AS (
    SELECT *,
        CASE WHEN kpi = 'user_satisfaction' THEN denominator END AS responses,
        CASE WHEN kpi = 'user_satisfaction' THEN least(like_for_like_denominator, previous_denominator) END
            AS fewest_responses_compared
    FROM sums
),

final AS (
    SELECT
        sums.level,
        sums.group_id,
        groups.group_name,
        sums.grain,
        sums.period_start,
        sums.period_end,
        period_name(sums.grain, sums.period_start, sums.period_end) AS period_name,
        kpis.kpi_order,
        sums.kpi,
        kpis.unit,
        satisfaction_published(CASE WHEN kpis.unit = 'GBP' THEN round(sums.numerator / NULLIF(sums.denominator, 0), 4)
            ELSE sums.numerator / NULLIF(sums.denominator, 0) END, sums.responses) AS value,
        satisfaction_published(sums.numerator, sums.responses) AS numerator,
        satisfaction_published(sums.denominator, sums.responses) AS denominator,
        groups.services_expected,
        sums.services_reporting,
        sums.services_reporting / groups.services_expected AS coverage,
        sums.like_for_like_services,
        satisfaction_published(satisfaction_published(CASE
            WHEN kpis.change_unit = 'percent' THEN (sums.like_for_like_numerator / NULLIF(sums.like_for_like_denominator, 0))
                / NULLIF(sums.previous_numerator / NULLIF(sums.previous_denominator, 0), 0) * 100 - 100
            ELSE (sums.like_for_like_numerator / NULLIF(sums.like_for_like_denominator, 0)
                  - sums.previous_numerator / NULLIF(sums.previous_denominator, 0)) * 100
        END, sums.responses), sums.fewest_responses_compared) AS change_vs_previous_period,
        kpis.change_unit,
        coalesce(suppression_note(sums.responses),
                 'change ' || suppression_note(sums.fewest_responses_compared) || ' in a period compared')
            AS suppression_note
    FROM counted AS sums
    JOIN groups USING (level, group_id)
    JOIN kpis USING (kpi)
)

SELECT * FROM final ORDER BY level, group_id, grain, period_start, kpi_order
