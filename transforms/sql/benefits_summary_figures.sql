-- The ministers' summary's figures, per period (each month, and each financial quarter, April-March year, whose three
-- months all have figures) and figure, with the previous period's value beside them. The summary only formats these.
-- Each figure is a sum (or a sum over a sum) over items: benefits at the period's last month, or services over the
-- period's months. An item counts only when it has every figure the sum needs in every month of the period;
-- items_counted of items_in_scope says how many did, and same_items_as_previous whether the counted items are those
-- of the previous period (like-for-like: a change is only comparable when true).
--   cashable_ / non_cashable_realised_to_date_gbp, _planned_to_date_gbp: benefits_realisation's realised and planned
--     money to date, over benefits measured in money of that category (dis-benefits apart), at the period's end
--   channel_shift_counterfactual_saving_gbp, channel_shift_theoretical_saving_gbp: channel_shift_savings summed over
--     the period's months, over services with both measures (never added to each other)
--   channel_shift_counterfactual_cumulative_gbp, channel_shift_theoretical_cumulative_gbp: since each service's
--     baseline, at the period's end
--   digital_take_up_rate: digital / all completed transactions over the period (volume-weighted, 0..1)
--   cost_per_transaction_gbp: cost / completed transactions over the period, whole services (channel 'all')
--   benefits_green, _amber, _red, _no_data: benefits with that RAG status at the period's end
-- change = value - previous_value (for a rate, x 100 gives percentage points).
WITH months AS (
    SELECT DISTINCT month FROM kpi_digital_take_up
),

quarters AS (
    SELECT date_trunc('quarter', month) AS period_start, count(*) AS months FROM months GROUP BY 1
),

periods AS (
    SELECT 'month' AS period_type, month AS period_start, month AS period_end,
        period_name('month', month, month) AS period_label, 1 AS period_months
    FROM months
    UNION ALL
    SELECT
        'quarter',
        CAST(period_start AS DATE),
        CAST(period_start + INTERVAL 2 MONTH AS DATE),
        period_name('quarter', period_start, period_start + INTERVAL 2 MONTH),
        3
    FROM quarters WHERE months = 3
),

period_months AS (
    SELECT periods.*, months.month FROM periods JOIN months ON months.month BETWEEN period_start AND period_end
),

benefits_at_end AS (
    SELECT periods.period_type, periods.period_start, realisation.*
    FROM periods JOIN benefits_realisation AS realisation ON realisation.month = periods.period_end
),

money_benefits AS (
    SELECT
        period_type, period_start, benefit_id AS item_id,
        replace(category, '-', '_') AS category,
        realised_to_date_gbp,
        planned_to_date_gbp,
        realised_to_date_gbp IS NOT NULL AND planned_to_date_gbp IS NOT NULL AS counted
    FROM benefits_at_end
    WHERE measure IN ('cost_per_transaction_gbp', 'channel_shift_saving_gbp') AND category <> 'dis-benefit'
),

savings AS (
    SELECT
        period_months.period_type, period_months.period_start, any_value(period_months.period_months) AS period_months,
        savings.service_id AS item_id,
        exact_sum(savings.counterfactual_saving_gbp) AS counterfactual,
        exact_sum(savings.theoretical_saving_gbp) AS theoretical,
        arg_max(savings.counterfactual_saving_cumulative_gbp, savings.month) AS counterfactual_cumulative,
        arg_max(savings.theoretical_saving_cumulative_gbp, savings.month) AS theoretical_cumulative,
        count(savings.counterfactual_saving_gbp) FILTER (WHERE savings.theoretical_saving_gbp IS NOT NULL)
            AS months_measured
    FROM period_months JOIN channel_shift_savings AS savings ON savings.month = period_months.month
    GROUP BY ALL
),

services AS (
    SELECT
        period_months.period_type, period_months.period_start, any_value(period_months.period_months) AS period_months,
        take_up.service_id AS item_id,
        sum(take_up.digital_transactions_completed) AS digital,
        sum(take_up.transactions_completed) AS completed,
        count(take_up.digital_take_up_rate) AS months_with_take_up,
        exact_sum(cpt.cost_gbp) AS cost,
        sum(cpt.transactions_completed) AS cpt_completed,
        count(cpt.cost_per_transaction_gbp) AS months_with_cpt
    FROM period_months
    JOIN kpi_digital_take_up AS take_up ON take_up.month = period_months.month
    LEFT JOIN kpi_cost_per_transaction AS cpt
        ON cpt.service_id = take_up.service_id AND cpt.month = take_up.month AND cpt.channel = 'all'
    GROUP BY ALL
),

contributions AS (
    SELECT period_type, period_start, category || '_realised_to_date_gbp' AS figure, 'GBP' AS unit, item_id,
        realised_to_date_gbp AS numerator, NULL::DOUBLE AS denominator, counted
    FROM money_benefits
    UNION ALL
    SELECT period_type, period_start, category || '_planned_to_date_gbp', 'GBP', item_id, planned_to_date_gbp, NULL,
        counted
    FROM money_benefits
    UNION ALL
    SELECT period_type, period_start, 'channel_shift_counterfactual_saving_gbp', 'GBP', item_id, counterfactual, NULL,
        months_measured = period_months
    FROM savings
    UNION ALL
    SELECT period_type, period_start, 'channel_shift_theoretical_saving_gbp', 'GBP', item_id, theoretical, NULL,
        months_measured = period_months
    FROM savings
    UNION ALL
    SELECT period_type, period_start, 'channel_shift_counterfactual_cumulative_gbp', 'GBP', item_id,
        counterfactual_cumulative, NULL, counterfactual_cumulative IS NOT NULL AND theoretical_cumulative IS NOT NULL
    FROM savings
    UNION ALL
    SELECT period_type, period_start, 'channel_shift_theoretical_cumulative_gbp', 'GBP', item_id,
        theoretical_cumulative, NULL, counterfactual_cumulative IS NOT NULL AND theoretical_cumulative IS NOT NULL
    FROM savings
    UNION ALL
    SELECT period_type, period_start, 'digital_take_up_rate', 'share', item_id, digital, completed,
        months_with_take_up = period_months
    FROM services
    UNION ALL
    SELECT period_type, period_start, 'cost_per_transaction_gbp', 'GBP', item_id, cost, cpt_completed,
        months_with_cpt = period_months
    FROM services
    UNION ALL
    SELECT period_type, period_start, 'benefits_' || status, 'count', benefit_id,
        CAST(rag_status = replace(status, '_', ' ') AS INTEGER), NULL, true
    FROM benefits_at_end CROSS JOIN (VALUES ('green'), ('amber'), ('red'), ('no_data')) AS statuses(status)
),

figures AS (
    SELECT
        period_type,
        period_start,
        figure,
        any_value(unit) AS unit,
        CASE WHEN count(*) FILTER (WHERE counted) > 0 THEN
            CASE WHEN count(denominator) > 0
                THEN exact_sum(CASE WHEN counted THEN numerator END)
                    / NULLIF(exact_sum(CASE WHEN counted THEN denominator END), 0)
                ELSE exact_sum(CASE WHEN counted THEN numerator END) END
        END AS value,
        count(*) FILTER (WHERE counted) AS items_counted,
        count(*) AS items_in_scope,
        string_agg(item_id, ';' ORDER BY item_id) FILTER (WHERE counted) AS counted_items
    FROM contributions
    GROUP BY period_type, period_start, figure
),

compared AS (
    SELECT
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        figures.figure,
        figures.unit,
        figures.value,
        lag(figures.value) OVER previous AS previous_value,
        figures.items_counted,
        figures.items_in_scope,
        CASE WHEN lag(periods.period_start) OVER previous
                  = CAST(periods.period_start - periods.period_months * INTERVAL 1 MONTH AS DATE)
            THEN (figures.counted_items IS NOT DISTINCT FROM lag(figures.counted_items) OVER previous)
        END AS same_items_as_previous,
        lag(periods.period_start) OVER previous
            = CAST(periods.period_start - periods.period_months * INTERVAL 1 MONTH AS DATE) AS previous_adjacent
    FROM figures JOIN periods USING (period_type, period_start)
    WINDOW previous AS (PARTITION BY periods.period_type, figures.figure ORDER BY periods.period_start)
),

final AS (
    SELECT
        period_type,
        period_start,
        period_end,
        period_label,
        figure,
        unit,
        round(value, CASE unit WHEN 'share' THEN 6 WHEN 'count' THEN 0 ELSE 2 END) AS value,
        round(CASE WHEN previous_adjacent THEN previous_value END,
              CASE unit WHEN 'share' THEN 6 WHEN 'count' THEN 0 ELSE 2 END) AS previous_value,
        round(CASE WHEN previous_adjacent THEN value - previous_value END,
              CASE unit WHEN 'share' THEN 6 WHEN 'count' THEN 0 ELSE 2 END) AS change,
        items_counted,
        items_in_scope,
        same_items_as_previous
    FROM compared
)

SELECT * FROM final ORDER BY period_type, period_start, figure
