-- stg_extract_transactions: transaction-level extracts aggregated to the grain of monthly returns, for one agency
-- and month ($files, $agency, $month), from the rows the quality gates accept: no rule broken (extract_rows.sql)
-- and not a repeated transaction (the temporary table extract_duplicates, from extract_duplicates.sql). One row
-- per service of the agency x channel it offers, and per service ('all'):
--   transactions_started      transactions that started in the month
--   transactions_completed    of those, the ones with a completed_at (completion rate = completed / started,
--                             kpi_completion_rate.sql)
--   time_to_complete_*        time to complete = completed_at - started_at in whole seconds
--                             (date_diff('second', ...)), over the completed ones: the median and the 90th
--                             percentile, continuous (quantile_cont: linear interpolation between the two
--                             nearest values). NULL when none completed.
-- An extract is the whole record of the agency's transactions that month: an offered channel with no row in it
-- had 0 transactions (a value, not "not provided").
WITH accepted AS (
    SELECT
        service_id,
        channel,
        -- whole seconds crossed: truncated first, so engines that count whole elapsed seconds agree (Spark)
        CAST(date_diff('second', date_trunc('second', started_at), date_trunc('second', completed_at)) AS INTEGER)
            AS seconds_to_complete
    FROM extract_rows($files, $agency, $month) AS rows
    ANTI JOIN extract_duplicates USING (file, row_number)
    WHERE rule IS NULL
),

-- Each row counts for its channel and for its service as a whole ('all'). $levels says which of the two this pass
-- computes: [true, false] both at once, [true] the channels, [false] the services (pipelines/defs/staging/extracts.py splits a
-- very large month into two passes, as quantiles hold every duration in memory until their group is done).
measured AS (
    SELECT
        service_id,
        CASE WHEN by_channel THEN channel ELSE 'all' END AS channel,
        count(*) AS transactions_started,
        count(seconds_to_complete) AS transactions_completed,
        quantile_cont(seconds_to_complete, [0.5, 0.9]) AS quantiles
    FROM accepted
    CROSS JOIN (SELECT unnest($levels) AS by_channel)
    GROUP BY ALL
),

scaffold AS (
    SELECT service_id, channel
    FROM (SELECT service_id, unnest(list_append(channels_offered, 'all')) AS channel
          FROM stg_service_catalogue WHERE agency_id = $agency)
    WHERE list_contains($levels, channel <> 'all')
),

final AS (
    SELECT
        $agency AS agency_id,
        scaffold.service_id,
        CAST($month AS DATE) AS month,
        scaffold.channel,
        coalesce(measured.transactions_started, 0) AS transactions_started,
        coalesce(measured.transactions_completed, 0) AS transactions_completed,
        measured.quantiles[1] AS time_to_complete_median_seconds,
        measured.quantiles[2] AS time_to_complete_p90_seconds
    FROM scaffold
    LEFT JOIN measured USING (service_id, channel)
)

SELECT * FROM final ORDER BY service_id, channel
