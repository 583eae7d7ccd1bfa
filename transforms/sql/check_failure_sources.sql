-- Where a row that fails a blocking check comes from, so that its message names something a person can open: the
-- service's agency and the files of its staged returns whose period covers the day (the row's month, or its
-- period's first day). Parameters: service_id, day (NULL: any period). Returns one row per agency the catalogue
-- gives the service (none known: a NULL agency), with the files sorted.
WITH asked AS (
    SELECT CAST(? AS VARCHAR) AS service_id, CAST(? AS DATE) AS day
),

staged AS (
    SELECT service_id, period_start, period_end, source_file FROM stg_transactions
    UNION ALL
    SELECT service_id, period_start, period_end, source_file FROM stg_costs
    UNION ALL
    SELECT service_id, period_start, period_end, source_file FROM stg_satisfaction
)

SELECT
    catalogue.agency_id,
    list_sort(list_distinct(list(staged.source_file))) AS source_files
FROM asked
LEFT JOIN stg_service_catalogue AS catalogue USING (service_id)
LEFT JOIN staged ON staged.service_id = asked.service_id
    AND (asked.day IS NULL OR asked.day BETWEEN staged.period_start AND staged.period_end)
GROUP BY catalogue.agency_id
ORDER BY catalogue.agency_id
