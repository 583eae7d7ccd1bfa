-- The rows of one agency's extract files of one month ($files, $agency, $month) that the quality gates reject,
-- and only those: each with the first rule it breaks (extract_rows.sql), else its duplicate rule (the temporary
-- table extract_duplicates, from extract_duplicates.sql); the column, the offending value and a message for the
-- quarantine. The rules themselves are written once, in those two files.
WITH rejected AS (
    SELECT rows.*, coalesce(rows.rule, extract_duplicates.rule) AS broken
    FROM extract_rows($files, $agency, $month) AS rows
    LEFT JOIN extract_duplicates USING (file, row_number)
    WHERE rows.rule IS NOT NULL OR extract_duplicates.rule IS NOT NULL
),

located AS (
    SELECT
        *,
        CASE
            WHEN broken = 'required_value_missing' THEN
                CASE WHEN transaction_id IS NULL THEN 'transaction_id' WHEN service_id IS NULL THEN 'service_id'
                     WHEN channel IS NULL THEN 'channel' WHEN started_at_raw IS NULL THEN 'started_at'
                     ELSE 'outcome' END
            WHEN broken = 'not_a_timestamp' THEN CASE WHEN started_at IS NULL THEN 'started_at' ELSE 'completed_at' END
            WHEN broken IN ('unknown_service', 'service_of_another_agency') THEN 'service_id'
            WHEN broken IN ('unknown_channel', 'channel_not_offered') THEN 'channel'
            WHEN broken = 'month_outside_return_period' THEN 'started_at'
            WHEN broken = 'completed_before_started' THEN 'completed_at'
            WHEN broken IN ('unknown_outcome', 'outcome_contradicts_completion') THEN 'outcome'
            ELSE 'transaction_id'
        END AS column_name
    FROM rejected
),

final AS (
    SELECT
        file,
        row_number,
        broken AS rule,
        column_name,
        CASE column_name
            WHEN 'transaction_id' THEN transaction_id WHEN 'service_id' THEN service_id WHEN 'channel' THEN channel
            WHEN 'started_at' THEN CAST(started_at_raw AS VARCHAR)
            WHEN 'completed_at' THEN CAST(completed_at_raw AS VARCHAR) ELSE outcome
        END AS offending_value,
        'transaction ' || coalesce(transaction_id, '(no id)') || ': ' || CASE broken
            WHEN 'required_value_missing' THEN column_name || ' is empty'
            WHEN 'not_a_timestamp' THEN column_name || ' is not a timestamp (YYYY-MM-DD hh:mm:ss)'
            WHEN 'unknown_service' THEN 'service ' || service_id || ' is not in the catalogue'
            WHEN 'service_of_another_agency' THEN 'service ' || service_id || ' belongs to another agency'
            WHEN 'unknown_channel' THEN 'channel ' || channel || ' is not one of the six channels'
            WHEN 'channel_not_offered' THEN 'the catalogue says ' || service_id || ' has no ' || channel || ' channel'
            WHEN 'month_outside_return_period' THEN 'started ' || CAST(started_at AS VARCHAR)
                || ', outside the month of its folder (' || strftime($month, '%Y-%m') || ')'
            WHEN 'completed_before_started' THEN 'completed ' || CAST(completed_at AS VARCHAR)
                || ', before it started (' || CAST(started_at AS VARCHAR) || ')'
            WHEN 'unknown_outcome' THEN 'outcome ' || outcome || ' is not completed, abandoned or in_progress'
            WHEN 'outcome_contradicts_completion' THEN 'outcome ' || outcome
                || CASE WHEN completed_at IS NULL THEN ' without completed_at' ELSE ' but completed_at is set' END
            WHEN 'conflicting_duplicate' THEN 'sent more than once with different values (all copies set aside)'
            ELSE 'an exact repeat of an earlier row (the first is kept)'
        END AS message
    FROM located
)

SELECT * FROM final ORDER BY file, row_number
