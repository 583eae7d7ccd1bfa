-- One extract file ($file) read for the sort-free proof that its agency-month has no repeated transaction id:
--   ids              rows with an id (rows without one are required_value_missing, never duplicates)
--   ascending_steps  rows whose id is greater than the id on the row before it in the file
--   first_id, last_id  its smallest and largest id
-- A file whose ascending_steps = ids - 1 has its ids strictly ascending, so none twice; when that holds for every
-- file of the month and the files' [first_id, last_id] ranges do not overlap, no id repeats anywhere and
-- extract_duplicates.sql (a sort of every id's hash) need not run (pipelines/defs/staging/extracts.py,
-- ids_proven_unique). Any other case proves nothing, and extract_duplicates.sql runs.
-- `lag ... OVER ()` is DuckDB's streaming window: it runs on one thread, in the file's own row order (with
-- preserve_insertion_order), so "the row before" is the file's previous row. Spark has no such order: its jobs
-- always run extract_duplicates.sql.
WITH ids AS (
    SELECT CAST(transaction_id AS VARCHAR) AS transaction_id
    FROM read_parquet($file)
    WHERE transaction_id IS NOT NULL
),

chained AS (
    SELECT transaction_id, lag(transaction_id) OVER () AS previous_id FROM ids
)

SELECT
    count(*) AS ids,
    count(*) FILTER (WHERE transaction_id > previous_id) AS ascending_steps,
    min(transaction_id) AS first_id,
    max(transaction_id) AS last_id
FROM chained
