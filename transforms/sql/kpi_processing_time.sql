-- Time to complete (processing time), measured from transaction-level extracts: per service, month and channel,
-- and for the whole service ('all'), the median and the 90th percentile of completed_at - started_at, in
-- seconds, over the transactions that started in the month and completed (continuous quantiles; the formula is
-- in the extract stage, where the rows are read). Only services whose agency sends extracts have a figure;
-- NULL when none completed.
WITH measured AS (
    SELECT service_id, month, channel, transactions_started, transactions_completed,
        time_to_complete_median_seconds, time_to_complete_p90_seconds
    FROM stg_extract_transactions
),

final AS (
    SELECT
        service_id,
        month,
        channel,
        transactions_started,
        transactions_completed,
        time_to_complete_median_seconds,
        time_to_complete_p90_seconds
    FROM measured
)

SELECT * FROM final ORDER BY service_id, month, channel
