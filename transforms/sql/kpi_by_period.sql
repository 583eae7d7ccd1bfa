-- kpi_by_period: the KPIs at grains coarser than a month, one row per service x grain x period x channel ('all'
-- for the whole service). Its sources, never mixed in one row:
--   submitted: figures agencies sent for a quarter, a financial year or a 12-month span, at that grain (a
--              quarter is never spread over its months);
--   rolled_up_from_months / rolled_up_from_quarters: monthly figures added up to quarters and financial years
--              (April to March), and submitted quarters added up to financial years, only when every month of
--              the period is there (months_covered); survey responses are summed over the months surveyed.
-- period_name names the period as people do (Q4 2015-16 (Jan-Mar 2016), 2018-19, 12 months to Sep 2017). Formulas are the shared
-- KPI formulas. Cost per transaction is for the whole service (channel 'all'). Totals
-- are NULL when any offered channel's volume is not provided, as in the monthly tables, with missing_inputs naming
-- the channels. Figures the publisher reported for the whole service (a total, cost per transaction, rates) are in
-- the reported_* columns of the submitted 'all' row, never mixed into the computed ones; the total transactions
-- come from the channels when they can, else from the reported total (total_basis says which), so that take-up =
-- digital / reported total for a publisher that sends only those two. Where nobody says which channels a service
-- offers (channels_offered NULL), its channels are those it sent figures for, and only a reported total is a total.
-- A submitted period is judged against the service's facts of that period: the channels its return said it offered
-- then (stg_transactions.channels_offered, where in force), else the catalogue's; so a later return never changes
-- an earlier period's figures.
--   not_received: a return due by the agency's cadence (a quarter, a financial year April-March, a calendar year,
--              a rolling 12 months sent quarterly)
--              that never came (submission_status 'missing', and no figure of the agency for a period ending in
--              that month): one row per service of the agency, every figure NULL, missing_inputs saying so; none
--              before the service's first return or its live_from month, none after the last return due.
WITH catalogue AS (
    SELECT service_id, channels_offered IS NOT NULL AS channels_known FROM stg_service_catalogue
),

submitted_rows AS (
    SELECT * FROM stg_transactions WHERE grain <> 'month'
    -- a period sent again in a later return (a publisher's whole history, resent) is the later return's
    QUALIFY row_number() OVER (PARTITION BY service_id, grain, period_start, channel ORDER BY month DESC) = 1
),

-- The channels each submitted period is judged against: its return's, where in force, else the catalogue's.
period_channels AS (
    SELECT periods.service_id, periods.grain, periods.period_start, 'submitted' AS source,
        coalesce(periods.channels_offered, services.channels_offered) AS channels_offered
    FROM (SELECT service_id, grain, period_start, any_value(channels_offered) AS channels_offered
          FROM submitted_rows GROUP BY ALL) AS periods
    LEFT JOIN stg_service_catalogue AS services USING (service_id)
),

period_known AS (
    SELECT service_id, grain, period_start, source, channels_offered IS NOT NULL AS channels_known
    FROM period_channels
),

offered AS (
    SELECT service_id, grain, period_start, unnest(channels_offered) AS channel FROM period_channels
    UNION
    SELECT DISTINCT service_id, grain, period_start, channel FROM submitted_rows
    JOIN period_known USING (service_id, grain, period_start)
    WHERE NOT channels_known AND channel <> 'all'
),

submitted_volumes AS (
    SELECT service_id, grain, period_start, period_end, channel, transactions_started, transactions_completed
    FROM submitted_rows WHERE channel <> 'all'
),

reported AS (
    SELECT service_id, grain, period_start, period_end, reported_transactions_completed,
        reported_cost_per_transaction_gbp, reported_digital_cost_per_transaction_gbp, reported_completion_rate,
        reported_satisfaction_rate
    FROM submitted_rows WHERE channel = 'all'
),

submitted_periods AS (
    SELECT DISTINCT service_id, grain, period_start, period_end FROM submitted_rows
),

submitted AS (
    SELECT periods.service_id, periods.grain, periods.period_start, periods.period_end, offered.channel,
        'submitted' AS source, NULL AS months_covered,
        volumes.transactions_started, volumes.transactions_completed
    FROM submitted_periods AS periods
    JOIN offered USING (service_id, grain, period_start)
    LEFT JOIN submitted_volumes AS volumes USING (service_id, grain, period_start, period_end, channel)
),

-- The periods monthly figures (and submitted quarters) roll up to: financial quarters and years, April-March.
months AS (
    SELECT service_id, month AS part, 1 AS months, channel, transactions_started, transactions_completed,
        'rolled_up_from_months' AS source
    FROM fct_service_month_channel
    UNION ALL
    SELECT service_id, period_start, 3, channel, transactions_started, transactions_completed,
        'rolled_up_from_quarters'
    FROM submitted WHERE grain = 'quarter'
),

rollup_parts AS (
    SELECT *, 'quarter' AS grain, date_trunc('quarter', part) AS rollup_start, 3 AS months_needed
    FROM months WHERE source = 'rolled_up_from_months'
    UNION ALL
    SELECT *, 'financial_year', make_date(year(part) - CASE WHEN month(part) < 4 THEN 1 ELSE 0 END, 4, 1), 12
    FROM months
),

rolled_up AS (
    SELECT
        service_id, grain, CAST(rollup_start AS DATE) AS period_start,
        CAST(rollup_start + any_value(months_needed) * INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS period_end,
        channel, source, CAST(sum(months) AS INTEGER) AS months_covered, any_value(months_needed) AS months_needed,
        CASE WHEN count(transactions_started) = count(*) THEN CAST(sum(transactions_started) AS BIGINT) END
            AS transactions_started,
        CASE WHEN count(transactions_completed) = count(*) THEN CAST(sum(transactions_completed) AS BIGINT) END
            AS transactions_completed
    FROM rollup_parts
    GROUP BY service_id, grain, rollup_start, channel, source
),

channels AS (
    SELECT service_id, grain, period_start, period_end, channel, source, months_covered,
        transactions_started, transactions_completed
    FROM submitted
    UNION ALL
    SELECT service_id, grain, period_start, period_end, channel, source, months_covered,
        transactions_started, transactions_completed
    FROM rolled_up WHERE months_covered = months_needed
),

cost_parts AS (
    SELECT service_id, cost_gbp, 'quarter' AS grain, date_trunc('quarter', month) AS rollup_start,
        1 AS months, 3 AS months_needed, 'rolled_up_from_months' AS source
    FROM fct_service_month
    UNION ALL
    SELECT service_id, cost_gbp, 'financial_year', make_date(year(month) - CASE WHEN month(month) < 4 THEN 1 ELSE 0 END,
        4, 1), 1, 12, 'rolled_up_from_months'
    FROM fct_service_month
    UNION ALL
    SELECT service_id, exact_sum(cost_gbp), 'financial_year', make_date(year(period_start)
        - CASE WHEN month(period_start) < 4 THEN 1 ELSE 0 END, 4, 1), 3, 12, 'rolled_up_from_quarters'
    FROM stg_costs WHERE grain = 'quarter' GROUP BY service_id, period_start
),

service_costs AS (
    SELECT service_id, grain, period_start, 'submitted' AS source, exact_sum(cost_gbp) AS cost_gbp
    FROM stg_costs WHERE grain <> 'month' GROUP BY ALL
    UNION ALL
    SELECT service_id, grain, CAST(rollup_start AS DATE), source,
        CASE WHEN count(cost_gbp) = count(*) AND sum(months) = any_value(months_needed) THEN exact_sum(cost_gbp) END
    FROM cost_parts GROUP BY service_id, grain, rollup_start, source
),

ratings AS (
    SELECT service_id, grain, period_start, channel, 'submitted' AS source,
        rating_1, rating_2, rating_3, rating_4, rating_5
    FROM stg_satisfaction WHERE grain <> 'month'
    UNION ALL
    SELECT service_id, grain, period_start, channel, 'rolled_up_from_months',
        sum(rating_1), sum(rating_2), sum(rating_3), sum(rating_4), sum(rating_5)
    FROM (SELECT *, 'quarter' AS grain, date_trunc('quarter', month) AS period_start FROM fct_service_month_channel
          UNION ALL
          SELECT *, 'financial_year', make_date(year(month) - CASE WHEN month(month) < 4 THEN 1 ELSE 0 END, 4, 1)
          FROM fct_service_month_channel)
    WHERE responses IS NOT NULL
    GROUP BY ALL
),

channel_totals AS (
    SELECT service_id, grain, period_start, period_end, source, any_value(months_covered) AS months_covered,
        CASE WHEN count(transactions_started) = count(*) THEN CAST(sum(transactions_started) AS BIGINT) END
            AS transactions_started,
        CASE WHEN count(transactions_completed) = count(*)
            AND bool_and(coalesce(period_known.channels_known, catalogue.channels_known, TRUE))
            THEN CAST(sum(transactions_completed) AS BIGINT) END AS computed_completed,
        string_agg(channel, ', ' ORDER BY channel) FILTER (WHERE transactions_completed IS NULL) AS missing_channels
    FROM channels LEFT JOIN period_known USING (service_id, grain, period_start, source)
    LEFT JOIN catalogue USING (service_id)
    GROUP BY service_id, grain, period_start, period_end, source
),

-- Reported totals, as sent, and added up from the four quarters of a financial year when all four were reported.
reported_totals AS (
    SELECT service_id, grain, period_start, period_end, 'submitted' AS source, NULL AS months_covered,
        reported_transactions_completed
    FROM reported
    UNION ALL
    SELECT service_id, 'financial_year', year_start, CAST(year_start + INTERVAL 12 MONTH - INTERVAL 1 DAY AS DATE),
        'rolled_up_from_quarters', 12, CAST(sum(reported_transactions_completed) AS BIGINT)
    FROM (SELECT *, make_date(year(period_start) - CASE WHEN month(period_start) < 4 THEN 1 ELSE 0 END, 4, 1)
              AS year_start
          FROM reported WHERE grain = 'quarter')
    GROUP BY service_id, year_start
    HAVING count(*) = 4 AND count(reported_transactions_completed) = 4
),

all_periods AS (
    SELECT service_id, grain, period_start, period_end, source FROM channel_totals
    UNION
    SELECT service_id, grain, period_start, period_end, source FROM reported_totals
),

with_all AS (
    SELECT *, NULL AS total_basis, NULL AS missing_inputs FROM channels
    UNION ALL
    SELECT periods.service_id, periods.grain, periods.period_start, periods.period_end, 'all', periods.source,
        coalesce(totals.months_covered, reported.months_covered), totals.transactions_started,
        coalesce(totals.computed_completed, reported.reported_transactions_completed),
        CASE WHEN totals.computed_completed IS NOT NULL THEN 'channels'
            WHEN reported.reported_transactions_completed IS NOT NULL THEN 'reported_total' END,
        CASE WHEN coalesce(totals.computed_completed, reported.reported_transactions_completed) IS NULL
            THEN coalesce('not provided: ' || totals.missing_channels, 'not provided: a total (the channels the '
                          || 'service offers are not known)') END
    FROM all_periods AS periods
    LEFT JOIN channel_totals AS totals USING (service_id, grain, period_start, period_end, source)
    LEFT JOIN reported_totals AS reported USING (service_id, grain, period_start, source)
),

digital AS (
    SELECT service_id, grain, period_start, source,
        CASE WHEN bool_or(channel = 'online') THEN sum(transactions_completed) FILTER (WHERE channel = 'online')
            WHEN bool_and(coalesce(period_known.channels_known, catalogue.channels_known, TRUE)) THEN 0 END
            AS digital_completed
    FROM channels LEFT JOIN period_known USING (service_id, grain, period_start, source)
    LEFT JOIN catalogue USING (service_id) GROUP BY ALL
),

all_ratings AS (
    SELECT * FROM ratings
    UNION ALL
    SELECT service_id, grain, period_start, 'all', source,
        sum(rating_1), sum(rating_2), sum(rating_3), sum(rating_4), sum(rating_5)
    FROM ratings GROUP BY ALL
),

final AS (
    SELECT
        with_all.service_id, with_all.grain, with_all.period_start, with_all.period_end, with_all.channel,
        with_all.source, with_all.months_covered,
        with_all.transactions_started, with_all.transactions_completed, with_all.total_basis,
        CASE WHEN with_all.channel = 'all' THEN digital.digital_completed END AS digital_transactions_completed,
        CASE WHEN with_all.channel = 'all' THEN round(service_costs.cost_gbp, 2) END AS cost_gbp,
        CASE WHEN with_all.channel = 'all'
            THEN published_cost_per_transaction(service_costs.cost_gbp, with_all.transactions_completed) END
            AS cost_per_transaction_gbp,
        CASE WHEN with_all.channel = 'all'
            THEN digital_take_up(digital.digital_completed, with_all.transactions_completed) END
            AS digital_take_up_rate,
        completion_rate(with_all.transactions_completed, with_all.transactions_started) AS completion_rate,
        CAST(r.rating_1 + r.rating_2 + r.rating_3 + r.rating_4 + r.rating_5 AS BIGINT) AS responses,
        satisfaction_score(r.rating_1, r.rating_2, r.rating_3, r.rating_4, r.rating_5) AS satisfaction_score,
        satisfied_share(r.rating_1, r.rating_2, r.rating_3, r.rating_4, r.rating_5) AS satisfied_share,
        reported.reported_transactions_completed,
        reported.reported_cost_per_transaction_gbp,
        reported.reported_digital_cost_per_transaction_gbp,
        reported.reported_completion_rate,
        reported.reported_satisfaction_rate,
        coalesce(with_all.missing_inputs, CASE WHEN with_all.channel = 'all' THEN
            cost_per_transaction_withheld(service_costs.cost_gbp, with_all.transactions_completed) END)
            AS missing_inputs
    FROM with_all
    LEFT JOIN service_costs USING (service_id, grain, period_start, source)
    LEFT JOIN digital USING (service_id, grain, period_start, source)
    LEFT JOIN all_ratings AS r USING (service_id, grain, period_start, channel, source)
    LEFT JOIN reported ON with_all.channel = 'all' AND with_all.source = 'submitted'
        AND reported.service_id = with_all.service_id AND reported.grain = with_all.grain
        AND reported.period_start = with_all.period_start
),

-- The periods due by cadence (one agency may have several) whose return never came.
due_not_received AS (
    SELECT status.agency_id, status.due_date, cadence.grain,
        CAST(status.month - (cadence.months - 1) * INTERVAL 1 MONTH AS DATE) AS period_start,
        CAST(status.month + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS period_end
    FROM submission_status AS status
    JOIN stg_agencies AS agencies USING (agency_id)
    JOIN (VALUES ('quarterly', 'quarter', 3, [3, 6, 9, 12]), ('financial_year', 'financial_year', 12, [3]),
                 ('calendar_year', 'rolling_12_months', 12, [12]),
                 ('rolling_12_months_quarterly', 'rolling_12_months', 12, [3, 6, 9, 12]),
                 ('yearly', 'rolling_12_months', 12, NULL))  -- ends in the agency's year_end_month
        AS cadence (name, grain, months, end_months)
        ON list_contains(agencies.cadence, cadence.name)
            AND list_contains(coalesce(cadence.end_months, [agencies.year_end_month]), month(status.month))
    WHERE status.status = 'missing' AND NOT EXISTS (
        SELECT 1 FROM stg_transactions AS sent
        WHERE sent.agency_id = status.agency_id AND date_trunc('month', sent.period_end) = status.month)
),

first_returns AS (
    SELECT service_id, min(date_trunc('month', period_end)) AS first_return_month FROM stg_transactions GROUP BY ALL
),

not_received AS (
    SELECT services.service_id, due.grain, due.period_start, due.period_end, 'all' AS channel,
        'not_received' AS source,
        'not received: the return due by ' || strftime(due.due_date, '%Y-%m-%d') AS missing_inputs
    FROM due_not_received AS due
    JOIN stg_service_catalogue AS services USING (agency_id)
    JOIN first_returns USING (service_id)
    WHERE due.period_end > first_returns.first_return_month
        AND (services.live_from IS NULL OR due.period_start >= services.live_from)
)

SELECT * EXCLUDE (missing_inputs), period_name(grain, period_start, period_end) AS period_name, missing_inputs
FROM (SELECT * FROM final UNION ALL BY NAME SELECT * FROM not_received)
ORDER BY service_id, grain, period_start, source, channel
