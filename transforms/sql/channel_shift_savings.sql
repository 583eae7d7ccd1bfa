-- Channel-shift savings, per service offering an online channel x month from its baseline month, GBP.
-- Baseline: the service's channel-shift baseline month (kpi_digital_take_up.baseline_month, its first month with a
-- take-up figure). Unit costs at the baseline month, from kpi_cost_per_transaction's rows:
--   digital CPT  = the online channel's cost / its completed transactions;
--   offline CPT  = the cost of every other channel (assisted digital included: the complement of digital take-up's
--                  numerator, so the shifted transactions and this unit cost describe the same channels)
--                  / their completed transactions; NULL when any of them is not provided;
--   overall CPT  = the whole service's cost / its completed transactions.
-- theoretical_saving_gbp    = shifted_transactions (kpi_digital_take_up)
--                             x (baseline offline CPT - baseline digital CPT)
-- counterfactual_saving_gbp = transactions completed now x baseline overall CPT (today's volume at the baseline
--                             channel mix and unit costs) - the actual cost now
-- The two answer different questions and are never added together. Cumulative columns sum the monthly figures from
-- the baseline month to `month`, over the months that have one (`*_months_measured` of `months_since_baseline`);
-- they are NULL when the month itself has no figure ("no data", never 0).
WITH take_up AS (
    SELECT service_id, month, baseline_month, transactions_completed, digital_take_up_rate, shifted_transactions
    FROM kpi_digital_take_up
    WHERE digital_channel_offered AND month >= baseline_month
),

channels AS (
    SELECT
        service_id,
        month,
        exact_sum(CASE WHEN channel = 'all' THEN cost_gbp END) AS cost_gbp,
        sum(transactions_completed) FILTER (WHERE channel = 'all') AS transactions_completed,
        exact_sum(CASE WHEN channel = 'online' THEN cost_gbp END) AS digital_cost_gbp,
        sum(transactions_completed) FILTER (WHERE channel = 'online') AS digital_completed,
        CASE WHEN count(cost_gbp) FILTER (WHERE channel NOT IN ('online', 'all'))
                  = count(*) FILTER (WHERE channel NOT IN ('online', 'all'))
              AND count(transactions_completed) FILTER (WHERE channel NOT IN ('online', 'all'))
                  = count(*) FILTER (WHERE channel NOT IN ('online', 'all'))
            THEN exact_sum(CASE WHEN channel NOT IN ('online', 'all') THEN cost_gbp END) END AS offline_cost_gbp,
        sum(transactions_completed) FILTER (WHERE channel NOT IN ('online', 'all')) AS offline_completed
    FROM kpi_cost_per_transaction
    GROUP BY service_id, month
),

unit_costs AS (
    SELECT
        service_id,
        month,
        cost_gbp,
        cost_per_transaction(cost_gbp, transactions_completed) AS cpt_gbp,
        cost_per_transaction(digital_cost_gbp, digital_completed) AS digital_cpt_gbp,
        cost_per_transaction(offline_cost_gbp, offline_completed) AS offline_cpt_gbp
    FROM channels
),

monthly AS (
    SELECT
        take_up.service_id,
        take_up.month,
        take_up.baseline_month,
        take_up.transactions_completed,
        take_up.digital_take_up_rate,
        take_up.shifted_transactions,
        now.cost_gbp,
        baseline.digital_cpt_gbp AS baseline_digital_cpt_gbp,
        baseline.offline_cpt_gbp AS baseline_offline_cpt_gbp,
        baseline.cpt_gbp AS baseline_cpt_gbp,
        take_up.shifted_transactions * (baseline.offline_cpt_gbp - baseline.digital_cpt_gbp) AS theoretical,
        take_up.transactions_completed * baseline.cpt_gbp - now.cost_gbp AS counterfactual
    FROM take_up
    LEFT JOIN unit_costs AS now USING (service_id, month)
    LEFT JOIN unit_costs AS baseline ON baseline.service_id = take_up.service_id
        AND baseline.month = take_up.baseline_month
),

cumulative AS (
    SELECT
        *,
        count(*) OVER since_baseline AS months_since_baseline,
        count(theoretical) OVER since_baseline AS theoretical_months_measured,
        count(counterfactual) OVER since_baseline AS counterfactual_months_measured,
        exact_sum(theoretical) OVER since_baseline AS theoretical_cumulative,
        exact_sum(counterfactual) OVER since_baseline AS counterfactual_cumulative
    FROM monthly
    WINDOW since_baseline AS (PARTITION BY service_id ORDER BY month ROWS UNBOUNDED PRECEDING)
),

final AS (
    SELECT
        cumulative.service_id,
        catalogue.agency_id,
        catalogue.department,
        cumulative.month,
        cumulative.baseline_month,
        cumulative.transactions_completed,
        round(cumulative.digital_take_up_rate, 6) AS digital_take_up_rate,
        cumulative.shifted_transactions,
        round(cumulative.baseline_digital_cpt_gbp, 4) AS baseline_digital_cpt_gbp,
        round(cumulative.baseline_offline_cpt_gbp, 4) AS baseline_offline_cpt_gbp,
        round(cumulative.baseline_cpt_gbp, 4) AS baseline_cpt_gbp,
        cumulative.cost_gbp,
        round(cumulative.theoretical, 2) AS theoretical_saving_gbp,
        round(cumulative.counterfactual, 2) AS counterfactual_saving_gbp,
        CASE WHEN cumulative.theoretical IS NOT NULL THEN round(cumulative.theoretical_cumulative, 2) END
            AS theoretical_saving_cumulative_gbp,
        CASE WHEN cumulative.counterfactual IS NOT NULL THEN round(cumulative.counterfactual_cumulative, 2) END
            AS counterfactual_saving_cumulative_gbp,
        cumulative.months_since_baseline,
        cumulative.theoretical_months_measured,
        cumulative.counterfactual_months_measured,
        NULLIF(concat_ws('; ',
            CASE WHEN cumulative.baseline_digital_cpt_gbp IS NULL OR cumulative.baseline_offline_cpt_gbp IS NULL
                THEN 'baseline channel unit costs not provided' END,
            CASE WHEN cumulative.baseline_cpt_gbp IS NULL THEN 'baseline unit cost not provided' END,
            CASE WHEN cumulative.transactions_completed IS NULL THEN 'volume not provided' END,
            CASE WHEN cumulative.cost_gbp IS NULL THEN 'costs not provided' END), '') AS missing_inputs
    FROM cumulative
    LEFT JOIN stg_service_catalogue AS catalogue USING (service_id)
)

SELECT * FROM final ORDER BY service_id, month
