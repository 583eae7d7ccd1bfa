-- Benefits realisation (HM Treasury Green Book benefits register, IPA benefit profile), per benefit x month from the
-- benefit's baseline month to the latest month with figures.
-- planned_value: straight lines through the register's points: (baseline_month, baseline_value), the optional
--   trajectory's (month, planned_value) points, (target_month, target_value); the target value after target_month.
-- actual_value: the measure for the benefit's service, or group of services (sum over sum, so volume-weighted; NULL
--   unless every service of the group has the figure), from the KPI tables' whole-service rows (channel 'all'):
--   digital_take_up_rate, cost_per_transaction_gbp, completion_rate, satisfaction_score, satisfied_share; for
--   channel_shift_saving_gbp, the counterfactual saving (channel_shift_savings) summed from the benefit's
--   baseline month. NULL is "no data", never 0; a satisfaction measure from fewer responses than the disclosure
--   threshold (fewer than 30 responses in the group) is NULL too, so no data.
-- variance = actual - planned; share_of_target_realised = (actual - baseline) / (target - baseline).
-- rag_status: 'no data' when there is no actual value; otherwise by shortfall_share = (planned - actual) /
--   (target - baseline), the shortfall against plan as a share of the whole promised change (actual - planned for a
--   dis-benefit, where more than planned is worse), rounded to 4 places:
--   green when shortfall_share <= 0.05, amber when <= 0.20, red above 0.20.
-- forecast_value: the least-squares straight line through the actual values of the last 6 months (this one
--   included; at least 3 values), read at target_month; NULL after target_month or without an actual value.
-- realised_to_date_gbp / planned_to_date_gbp, money measures only (GBP, positive = money saved):
--   cost_per_transaction_gbp: the sum over months since baseline with data of (baseline_value - actual, or planned,
--   value) x completed transactions; channel_shift_saving_gbp: the actual and planned (cumulative) values.
WITH register AS (
    SELECT * FROM stg_benefits_register
),

benefit_months AS (
    SELECT
        benefit_id,
        CAST(unnest(generate_series(baseline_month, (SELECT max(month) FROM kpi_digital_take_up),
                                    INTERVAL 1 MONTH)) AS DATE) AS month
    FROM register
),

benefit_services AS (
    SELECT benefit_id, trim(unnest(string_split(service_id, ';'))) AS service_id FROM register
),

measures AS (
    SELECT service_id, month, 'digital_take_up_rate' AS measure,
        CAST(digital_transactions_completed AS DOUBLE) AS numerator,
        CAST(transactions_completed AS DOUBLE) AS denominator, transactions_completed AS volume
    FROM kpi_digital_take_up WHERE digital_take_up_rate IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'cost_per_transaction_gbp', cost_gbp, transactions_completed, transactions_completed
    FROM kpi_cost_per_transaction WHERE channel = 'all' AND cost_per_transaction_gbp IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'completion_rate', transactions_completed, transactions_started, transactions_completed
    FROM kpi_completion_rate WHERE channel = 'all' AND completion_rate IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'satisfaction_score', satisfaction_score * responses, responses, NULL
    FROM kpi_user_satisfaction WHERE channel = 'all' AND satisfaction_score IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'satisfied_share', rating_4 + rating_5, responses, NULL
    FROM kpi_user_satisfaction WHERE channel = 'all' AND satisfied_share IS NOT NULL
    UNION ALL
    SELECT service_id, month, 'channel_shift_saving_gbp', counterfactual_saving_gbp, NULL, transactions_completed
    FROM channel_shift_savings WHERE counterfactual_saving_gbp IS NOT NULL
),

measured AS (
    SELECT
        benefit_months.benefit_id,
        benefit_months.month,
        count(*) AS services_in_group,
        count(measures.numerator) AS services_measured,
        CASE WHEN count(measures.numerator) = count(*) AND NOT (any_value(register.measure) IN
                ('satisfaction_score', 'satisfied_share') AND satisfaction_suppressed(exact_sum(measures.denominator)))
        THEN
            CASE WHEN any_value(register.measure) = 'channel_shift_saving_gbp' THEN exact_sum(measures.numerator)
                ELSE exact_sum(measures.numerator) / NULLIF(exact_sum(measures.denominator), 0) END
        END AS month_value,
        exact_sum(measures.volume) AS volume
    FROM benefit_months
    JOIN register USING (benefit_id)
    JOIN benefit_services USING (benefit_id)
    LEFT JOIN measures ON measures.service_id = benefit_services.service_id AND measures.month = benefit_months.month
        AND measures.measure = register.measure
    GROUP BY benefit_months.benefit_id, benefit_months.month
),

points AS (
    SELECT benefit_id, baseline_month AS point_month, baseline_value AS point_value FROM register
    UNION ALL
    SELECT benefit_id, target_month, target_value FROM register
    UNION ALL
    SELECT benefit_id, point.month, point.planned_value
    FROM (SELECT benefit_id, unnest(trajectory) AS point FROM register)
),

between_points AS (
    SELECT
        benefit_months.benefit_id,
        benefit_months.month,
        max(point_month) FILTER (WHERE point_month <= month) AS from_month,
        arg_max(point_value, point_month) FILTER (WHERE point_month <= month) AS from_value,
        min(point_month) FILTER (WHERE point_month >= month) AS to_month,
        arg_min(point_value, point_month) FILTER (WHERE point_month >= month) AS to_value
    FROM benefit_months JOIN points USING (benefit_id)
    GROUP BY benefit_months.benefit_id, benefit_months.month
),

planned AS (
    SELECT
        benefit_id,
        month,
        CASE
            WHEN to_month IS NULL OR to_month = from_month THEN from_value
            ELSE from_value + (to_value - from_value) * datediff('month', from_month, month)
                / datediff('month', from_month, to_month)
        END AS planned_value
    FROM between_points
),

actual AS (
    SELECT
        register.*,
        measured.month,
        measured.services_in_group,
        measured.services_measured,
        measured.month_value,
        measured.volume,
        planned.planned_value,
        CASE
            WHEN register.measure <> 'channel_shift_saving_gbp' THEN measured.month_value
            WHEN measured.month_value IS NOT NULL THEN exact_sum(measured.month_value) OVER to_date
        END AS actual_value,
        CASE register.measure
            WHEN 'cost_per_transaction_gbp' THEN
                CASE WHEN measured.month_value IS NOT NULL
                    THEN exact_sum((register.baseline_value - measured.month_value) * measured.volume) OVER to_date END
        END AS realised_cpt_gbp,
        CASE register.measure
            WHEN 'cost_per_transaction_gbp' THEN
                CASE WHEN measured.month_value IS NOT NULL
                    THEN exact_sum(CASE WHEN measured.month_value IS NOT NULL
                        THEN (register.baseline_value - planned.planned_value) * measured.volume END) OVER to_date END
        END AS planned_cpt_gbp
    FROM register
    JOIN measured USING (benefit_id)
    JOIN planned USING (benefit_id, month)
    WINDOW to_date AS (PARTITION BY register.benefit_id ORDER BY measured.month ROWS UNBOUNDED PRECEDING)
),

trend AS (
    SELECT
        *,
        datediff('month', baseline_month, month) AS month_number,
        regr_count(actual_value, datediff('month', baseline_month, month)) OVER recent AS trend_points,
        regr_slope(actual_value, datediff('month', baseline_month, month)) OVER recent AS trend_slope,
        regr_intercept(actual_value, datediff('month', baseline_month, month)) OVER recent AS trend_intercept
    FROM actual
    WINDOW recent AS (PARTITION BY benefit_id ORDER BY month ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)
),

scored AS (
    SELECT
        *,
        round(CASE WHEN category = 'dis-benefit' THEN actual_value - planned_value ELSE planned_value - actual_value END
              / NULLIF(target_value - baseline_value, 0), 4) AS shortfall_share,
        CASE WHEN actual_value IS NOT NULL AND month <= target_month AND trend_points >= 3
            THEN trend_intercept + trend_slope * datediff('month', baseline_month, target_month) END AS forecast
    FROM trend
),

final AS (
    SELECT
        benefit_id,
        month,
        title,
        service_id,
        category,
        measure,
        unit,
        owner,
        senior_responsible_owner,
        confidence,
        baseline_month,
        baseline_value,
        target_month,
        target_value,
        round(planned_value, 6) AS planned_value,
        round(actual_value, 6) AS actual_value,
        round(actual_value - planned_value, 6) AS variance,
        round((actual_value - baseline_value) / NULLIF(target_value - baseline_value, 0), 4)
            AS share_of_target_realised,
        shortfall_share,
        CASE
            WHEN actual_value IS NULL OR shortfall_share IS NULL THEN 'no data'
            WHEN shortfall_share <= 0.05 THEN 'green'
            WHEN shortfall_share <= 0.20 THEN 'amber'
            ELSE 'red'
        END AS rag_status,
        round(forecast, 6) AS forecast_value,
        round((forecast - baseline_value) / NULLIF(target_value - baseline_value, 0), 4) AS forecast_share_of_target,
        CASE WHEN forecast IS NOT NULL THEN trend_points END AS forecast_points,
        round(CASE measure WHEN 'cost_per_transaction_gbp' THEN realised_cpt_gbp
                           WHEN 'channel_shift_saving_gbp' THEN actual_value END, 2) AS realised_to_date_gbp,
        round(CASE measure WHEN 'cost_per_transaction_gbp' THEN planned_cpt_gbp
                           WHEN 'channel_shift_saving_gbp' THEN
                               CASE WHEN actual_value IS NOT NULL THEN planned_value END
              END, 2) AS planned_to_date_gbp,
        services_in_group,
        services_measured
    FROM scored
)

SELECT * FROM final ORDER BY benefit_id, month
