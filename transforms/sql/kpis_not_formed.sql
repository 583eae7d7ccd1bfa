-- kpis_not_formed: the KPIs a source's accepted rows could not form for most of its services (more than half of
-- the services it sent transactions for have the KPI in none of their periods: kpi_formation), per agency and KPI,
-- with the commonest reason and the fix. A run ends with a warning for each row (pipelines/run.py), and the
-- data-quality page lists them: a run that accepted rows but formed no take-up is never silent.
WITH services AS (
    SELECT agency_id, service_id, kpi, bool_or(formed) AS formed, min(why_not) AS why_not
    FROM kpi_formation GROUP BY ALL
),

reasons AS (
    SELECT agency_id, kpi, why_not AS reason, count(*) AS services
    FROM services WHERE NOT formed GROUP BY agency_id, kpi, why_not
    QUALIFY row_number() OVER (PARTITION BY agency_id, kpi ORDER BY count(*) DESC, why_not) = 1
),

by_source AS (
    SELECT agency_id, kpi, count(*) AS services, count(*) FILTER (WHERE NOT formed) AS services_affected
    FROM services GROUP BY ALL
)

SELECT by_source.agency_id, by_source.kpi, by_source.services_affected, by_source.services, reasons.reason,
    CASE
        WHEN by_source.kpi = 'digital_take_up' AND reasons.reason LIKE '%offers are not known%'
            THEN 'declare the channels offered in the mapping or the catalogue'
        WHEN by_source.kpi = 'digital_take_up'
            THEN 'send a figure for every channel offered, or a total, or declare the channels offered in the '
            || 'mapping or the catalogue'
        WHEN by_source.kpi = 'cost_per_transaction'
            THEN 'send the costs return, or map the cost per transaction the publisher reports '
            || '(a measure cost_per_transaction_gbp)'
        ELSE 'map a column to transactions_started, or the completion rate the publisher reports '
            || '(a measure completion_rate)'
    END AS fix
FROM by_source
JOIN reasons USING (agency_id, kpi)
WHERE by_source.services_affected * 2 > by_source.services
ORDER BY by_source.agency_id, by_source.kpi
