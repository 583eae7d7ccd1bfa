-- The roll-up, once for every grain: each KPI for the whole government, each department and each agency, per grain
-- (month, quarter, financial_year, rolling_12_months, span: a column) and period. kpi_rollups publishes its months
-- and kpi_rollups_by_period its other grains; their leading comments are the definitions as published. Always
-- volume-weighted (sum of numerators / sum of denominators over the services with a figure), never a mean of rates;
-- a count (shifted transactions) is its sum. Inputs, one figure per service and period: a month's from the monthly
-- KPI tables (channel 'all'); a coarser period's from kpi_by_period, the one the agency sent for that grain when there
-- is one, else the one rolled up from its months (or quarters). Every group has a row for every month and every KPI
-- rolled up monthly, figures or not (coverage 0); a coarser grain has rows only for periods with figures.
-- Like-for-like: the change compares with the previous period of the same grain (the month, quarter or year before)
-- over only the services with a figure in both. Sums are exact_sum (formulas.sql), the house's one exact sum: each
-- figure to 1e-6, added exactly, so the same inputs give the same bits in any order, and figures with at most 6
-- decimals (money, counts, satisfaction's quarter-point ratings x responses) add up to exactly their decimal sum.
-- A user-satisfaction figure (value, numerator, denominator, change) from fewer responses than the publication
-- threshold is suppressed (formulas.sql), and so is its change when either period compared has too few.
WITH catalogue AS (
    SELECT service_id, agency_id, department FROM stg_service_catalogue
),

periods AS (
    -- a return due that never came has no figure (and never shadows one rolled up from months)
    SELECT * FROM kpi_by_period WHERE channel = 'all' AND source <> 'not_received'
    QUALIFY row_number() OVER (PARTITION BY service_id, grain, period_start
                               ORDER BY source = 'submitted' DESC, source) = 1
),

-- Every figure a roll-up reads, in kpi_by_period's column names: a month's row from each monthly KPI table carries
-- that table's columns only, so each KPI below reads the rows of the table that has it.
figures AS (
    SELECT service_id, month, cost_gbp, transactions_completed, cost_per_transaction_gbp
    FROM kpi_cost_per_transaction WHERE channel = 'all'
    UNION ALL BY NAME
    SELECT service_id, month, digital_transactions_completed, transactions_completed, digital_take_up_rate,
        take_up_change_pp, shifted_transactions
    FROM kpi_digital_take_up
    UNION ALL BY NAME
    SELECT service_id, month, transactions_completed, transactions_started, completion_rate
    FROM kpi_completion_rate WHERE channel = 'all'
    UNION ALL BY NAME
    SELECT service_id, month, satisfaction_score, responses FROM kpi_user_satisfaction WHERE channel = 'all'
),

inputs AS (
    SELECT * EXCLUDE (month), 'month' AS grain, month AS period_start, last_day(month) AS period_end FROM figures
    UNION ALL BY NAME
    SELECT service_id, grain, period_start, period_end, cost_gbp, transactions_completed, cost_per_transaction_gbp,
        reported_cost_per_transaction_gbp, digital_transactions_completed, digital_take_up_rate,
        transactions_started, completion_rate, satisfaction_score, responses
    FROM periods
),

measures AS (
    SELECT service_id, grain, period_start, period_end, 'cost_per_transaction' AS kpi, cost_gbp AS numerator,
        transactions_completed AS denominator
    FROM inputs WHERE cost_per_transaction_gbp IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'reported_cost_per_transaction',
        reported_cost_per_transaction_gbp * transactions_completed, transactions_completed
    FROM inputs WHERE reported_cost_per_transaction_gbp IS NOT NULL AND transactions_completed IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'digital_take_up', digital_transactions_completed,
        transactions_completed
    FROM inputs WHERE digital_take_up_rate IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'completion_rate', transactions_completed,
        transactions_started
    FROM inputs WHERE completion_rate IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'user_satisfaction', satisfaction_score * responses,
        responses
    FROM inputs WHERE satisfaction_score IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'take_up_change_since_baseline',
        take_up_change_pp * transactions_completed, transactions_completed
    FROM inputs WHERE take_up_change_pp IS NOT NULL
    UNION ALL
    SELECT service_id, grain, period_start, period_end, 'shifted_transactions', shifted_transactions, NULL
    FROM inputs WHERE shifted_transactions IS NOT NULL
),

paired AS (
    SELECT now.*, before.numerator AS previous_numerator, before.denominator AS previous_denominator,
        before.service_id IS NOT NULL AS like_for_like
    FROM measures AS now
    LEFT JOIN measures AS before
        ON before.service_id = now.service_id AND before.kpi = now.kpi AND before.grain = now.grain
        AND before.period_start = CAST(now.period_start - CASE now.grain WHEN 'month' THEN INTERVAL 1 MONTH
            WHEN 'quarter' THEN INTERVAL 3 MONTH ELSE INTERVAL 12 MONTH END AS DATE)
),

-- A service's department and agency in a period: those its agency's file for that period gave (stg_service_facts,
-- valid over the periods of that file's returns), else the catalogue's; and whether it had begun by the period's end
-- (its first figure starts by then; a service with none always has). So neither a later file nor a service added
-- later changes an earlier period's roll-up.
period_facts AS (
    SELECT facts.service_id, facts.agency_id, facts.department, facts.source_file,
        min(sent.period_start) AS valid_from, max(sent.period_end) AS valid_to
    FROM stg_service_facts AS facts
    JOIN stg_transactions AS sent USING (service_id, source_file)
    GROUP BY ALL
),

service_periods AS (
    SELECT periods.grain, periods.period_start, catalogue.service_id,
        coalesce(facts.department, catalogue.department) AS department,
        coalesce(facts.agency_id, catalogue.agency_id) AS agency_id,
        starts.first_start IS NULL OR starts.first_start <= periods.period_end AS begun
    FROM (SELECT DISTINCT grain, period_start, period_end FROM inputs) AS periods
    CROSS JOIN catalogue
    LEFT JOIN (SELECT service_id, min(period_start) AS first_start FROM inputs GROUP BY ALL) AS starts
        USING (service_id)
    LEFT JOIN period_facts AS facts ON catalogue.service_id = facts.service_id
        AND periods.period_start >= facts.valid_from AND periods.period_end <= facts.valid_to
    QUALIFY row_number() OVER (PARTITION BY periods.grain, periods.period_start, catalogue.service_id
                               ORDER BY facts.valid_to DESC NULLS LAST, facts.source_file DESC) = 1
),

grouped AS (
    SELECT 'government' AS level, 'all' AS group_id, paired.*
    FROM paired JOIN service_periods USING (service_id, grain, period_start)
    UNION ALL
    SELECT 'department', service_periods.department, paired.*
    FROM paired JOIN service_periods USING (service_id, grain, period_start)
    UNION ALL
    SELECT 'agency', service_periods.agency_id, paired.*
    FROM paired JOIN service_periods USING (service_id, grain, period_start)
),

sums AS (
    SELECT
        level, group_id, grain, period_start, any_value(period_end) AS period_end, kpi,
        count(*) AS services_reporting,
        exact_sum(numerator) AS numerator,
        exact_sum(denominator) AS denominator,
        count(*) FILTER (WHERE like_for_like) AS like_for_like_services,
        exact_sum(CASE WHEN like_for_like THEN numerator END) AS like_for_like_numerator,
        exact_sum(CASE WHEN like_for_like THEN denominator END) AS like_for_like_denominator,
        exact_sum(previous_numerator) AS previous_numerator,
        exact_sum(previous_denominator) AS previous_denominator
    FROM grouped GROUP BY level, group_id, grain, period_start, kpi
),

groups AS (
    SELECT 'government' AS level, 'all' AS group_id, 'All services' AS group_name
    UNION ALL
    SELECT DISTINCT 'department', department, department FROM service_periods
    UNION ALL
    SELECT 'agency', service_periods.agency_id,
        coalesce(any_value(stg_agencies.agency_name), service_periods.agency_id)
    FROM service_periods LEFT JOIN stg_agencies USING (agency_id) GROUP BY service_periods.agency_id
),

-- The KPIs rolled up, in the order they are shown; `monthly`: a month has a row for it even without figures (the
-- publishers' reported cost per transaction is rolled up only for periods coarser than a month).
kpis AS (
    SELECT * FROM (VALUES
        (1, 'cost_per_transaction', 'GBP', 'percent', true),
        (2, 'reported_cost_per_transaction', 'GBP', 'percent', false),
        (3, 'digital_take_up', '0..1', 'percentage points', true),
        (4, 'completion_rate', '0..1', 'percentage points', true),
        (5, 'user_satisfaction', '0..1', 'percentage points', true),
        (6, 'take_up_change_since_baseline', 'percentage points', 'percentage points', true),
        (7, 'shifted_transactions', 'transactions', 'transactions', true)
    ) AS k (kpi_order, kpi, unit, change_unit, monthly)
),

rows AS (
    SELECT groups.level, groups.group_id, months.*, kpis.kpi
    FROM groups
    CROSS JOIN (SELECT DISTINCT grain, period_start, period_end FROM measures WHERE grain = 'month') AS months
    CROSS JOIN kpis WHERE kpis.monthly
    UNION
    SELECT level, group_id, grain, period_start, period_end, kpi FROM sums
),

in_scope AS (
    SELECT level, group_id, grain, period_start, count(*) AS services_expected
    FROM (SELECT 'government' AS level, 'all' AS group_id, * FROM service_periods
          UNION ALL
          SELECT 'department', department, * FROM service_periods
          UNION ALL
          SELECT 'agency', agency_id, * FROM service_periods)
    WHERE begun
    GROUP BY ALL
),

valued AS (
    SELECT
        rows.*,
        kpis.kpi_order,
        kpis.unit,
        kpis.change_unit,
        coalesce(sums.services_reporting, 0) AS services_reporting,
        coalesce(sums.like_for_like_services, 0) AS like_for_like_services,
        sums.numerator,
        sums.denominator,
        CASE WHEN kpis.unit = 'transactions' THEN sums.numerator
            ELSE sums.numerator / NULLIF(sums.denominator, 0) END AS value,
        CASE WHEN kpis.unit = 'transactions' THEN sums.like_for_like_numerator
            ELSE sums.like_for_like_numerator / NULLIF(sums.like_for_like_denominator, 0) END AS value_like_for_like,
        CASE WHEN kpis.unit = 'transactions' THEN sums.previous_numerator
            ELSE sums.previous_numerator / NULLIF(sums.previous_denominator, 0) END AS previous_value_like_for_like,
        CASE WHEN rows.kpi = 'user_satisfaction' THEN sums.denominator END AS responses,
        CASE WHEN rows.kpi = 'user_satisfaction'
            THEN least(sums.like_for_like_denominator, sums.previous_denominator) END AS fewest_responses_compared
    FROM rows
    JOIN kpis USING (kpi)
    LEFT JOIN sums USING (level, group_id, grain, period_start, kpi)
),

final AS (
    SELECT
        level,
        group_id,
        groups.group_name,
        grain,
        period_start,
        period_end,
        period_name(grain, period_start, period_end) AS period_name,
        kpi_order,
        kpi,
        unit,
        satisfaction_published(CASE WHEN unit = 'GBP' THEN round(value, 4) ELSE value END, responses) AS value,
        satisfaction_published(numerator, responses) AS numerator,
        satisfaction_published(denominator, responses) AS denominator,
        coalesce(in_scope.services_expected, 0) AS services_expected,
        services_reporting,
        services_reporting / in_scope.services_expected AS coverage,
        like_for_like_services,
        satisfaction_published(satisfaction_published(
            CASE
                WHEN change_unit = 'percent'
                    THEN (value_like_for_like / NULLIF(previous_value_like_for_like, 0) - 1) * 100
                WHEN unit = '0..1' THEN (value_like_for_like - previous_value_like_for_like) * 100
                ELSE value_like_for_like - previous_value_like_for_like
            END, responses), fewest_responses_compared) AS change_vs_previous,
        change_unit,
        coalesce(suppression_note(responses),
                 'change ' || suppression_note(fewest_responses_compared) || ' in a '
                 || CASE WHEN grain = 'month' THEN 'month' ELSE 'period' END || ' compared') AS suppression_note
    FROM valued
    JOIN groups USING (level, group_id)
    LEFT JOIN in_scope USING (level, group_id, grain, period_start)
)

SELECT * FROM final ORDER BY level, group_id, grain, period_start, kpi_order
