-- Repeated transaction ids among one agency's extract files of one month ($files, $agency, $month):
--   conflicting_duplicate   an id sent more than once with different values: every copy is set aside
--   duplicate_row           an exact repeat of a row already sent (by file, then row): the first is kept
-- Ids are compared by hash first (a sort of 8-byte numbers, bounded memory) and exactly only among the rows whose
-- hashes repeat, so a hash collision is never taken for a duplicate.
WITH id_hashes AS (
    SELECT hash(transaction_id) AS id_hash FROM extract_rows($files, $agency, $month) WHERE transaction_id IS NOT NULL
),

repeated AS (
    SELECT DISTINCT id_hash
    FROM (SELECT id_hash, lag(id_hash) OVER (ORDER BY id_hash) AS previous FROM id_hashes)
    WHERE id_hash = previous
),

candidates AS (
    SELECT file, row_number, transaction_id, service_id, channel, started_at, completed_at, outcome
    FROM extract_rows($files, $agency, $month)
    WHERE hash(transaction_id) IN (SELECT id_hash FROM repeated)
),

final AS (
    SELECT
        file,
        row_number,
        CASE
            -- some copy differs from this one (a count, not count(DISTINCT ...) OVER, which Spark does not run)
            WHEN count(*) OVER same_values < count(*) OVER same_id THEN 'conflicting_duplicate'
            WHEN row_number() OVER (PARTITION BY transaction_id ORDER BY file, row_number) > 1 THEN 'duplicate_row'
        END AS rule
    FROM candidates
    WINDOW same_id AS (PARTITION BY transaction_id),
        same_values AS (PARTITION BY transaction_id, service_id, channel, started_at, completed_at, outcome)
)

SELECT * FROM final WHERE rule IS NOT NULL
