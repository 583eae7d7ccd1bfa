-- extract_rows(files, agency, month): the rows of one agency's transaction-level extract files for one month
-- (config/mappings/extract.yaml), typed, read straight from Parquet by DuckDB (streamed, never loaded whole), each
-- with the first quality rule it breaks (NULL: none). CSV extracts are first copied to Parquet in their own row
-- order, so row numbers are always the file's own.
--   file        position of the file in `files` (0-based); row_number: the data row, 1 = first under the header
--   *_raw       the value as sent: a timestamp that cannot be read is NULL in started_at / completed_at
-- The rules, the same as monthly returns' (README, "Quarantine rules"), in the order they are tested:
--   required_value_missing          transaction_id, service_id, channel, started_at or outcome empty
--   not_a_timestamp                 started_at or completed_at cannot be read as a timestamp
--   unknown_service / service_of_another_agency / unknown_channel / channel_not_offered   (the catalogue's)
--   month_outside_return_period     started_at is not in the month of the folder (a transaction belongs to the
--                                   month it started)
--   completed_before_started        completed_at earlier than started_at
--   unknown_outcome                 outcome not one of completed, abandoned, in_progress
--   outcome_contradicts_completion  completed without completed_at, or completed_at on one that did not complete
-- Repeated transaction ids are found across rows by extract_duplicates.sql.
CREATE OR REPLACE TEMP MACRO extract_rows(files, agency, month) AS TABLE
WITH typed AS (
    SELECT
        file_index AS file,
        file_row_number + 1 AS row_number,
        CAST(transaction_id AS VARCHAR) AS transaction_id,
        CAST(service_id AS VARCHAR) AS service_id,
        CAST(channel AS VARCHAR) AS channel,
        TRY_CAST(started_at AS TIMESTAMP) AS started_at,
        TRY_CAST(completed_at AS TIMESTAMP) AS completed_at,
        CAST(outcome AS VARCHAR) AS outcome,
        started_at AS started_at_raw,
        completed_at AS completed_at_raw
    FROM read_parquet(files, file_row_number = true, union_by_name = true)
),

offered AS (
    SELECT service_id, unnest(channels_offered) AS channel FROM stg_service_catalogue WHERE agency_id = agency
)

SELECT
    typed.*,
    CASE
        WHEN typed.transaction_id IS NULL OR typed.service_id IS NULL OR typed.channel IS NULL
            OR typed.started_at_raw IS NULL OR typed.outcome IS NULL THEN 'required_value_missing'
        WHEN typed.started_at IS NULL OR (typed.completed_at IS NULL AND typed.completed_at_raw IS NOT NULL)
            THEN 'not_a_timestamp'
        -- one cheap lookup for the rows that pass; the catalogue says which rule for the rare ones that do not
        WHEN offered.service_id IS NULL THEN
            CASE
                WHEN typed.service_id NOT IN (SELECT service_id FROM stg_service_catalogue) THEN 'unknown_service'
                WHEN typed.service_id NOT IN (SELECT service_id FROM stg_service_catalogue WHERE agency_id = agency)
                    THEN 'service_of_another_agency'
                WHEN typed.channel NOT IN ('online', 'phone', 'face_to_face', 'paper', 'assisted_digital', 'other')
                    THEN 'unknown_channel'
                ELSE 'channel_not_offered'
            END
        WHEN typed.started_at < month OR typed.started_at >= month + INTERVAL 1 MONTH
            THEN 'month_outside_return_period'
        WHEN typed.completed_at < typed.started_at THEN 'completed_before_started'
        WHEN typed.outcome NOT IN ('completed', 'abandoned', 'in_progress') THEN 'unknown_outcome'
        WHEN (typed.outcome = 'completed') <> (typed.completed_at IS NOT NULL) THEN 'outcome_contradicts_completion'
    END AS rule
FROM typed
LEFT JOIN offered ON offered.service_id = typed.service_id AND offered.channel = typed.channel;
