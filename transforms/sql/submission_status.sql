-- submission_status: per agency x month a return is due in (by its cadence), was it received by its due date?
-- due_date: the agency's return_due_day of the month after `month` (config/sources.yaml).
-- as_of: the latest time any submission was received, so the table depends on the data alone.
-- status: received (first version on or before the due date, UK time), late (first version after it),
-- missing (nothing received and the due date is before as_of), not_yet_due (nothing received yet, not due).
-- period_name: the period the return covers, named by the agency's cadence (March 2025, Q4 2017-18 (Jan-Mar 2018), 2017-18, 2018,
-- 12 months to Mar 2018; both, joined by "and", when two cadences fall due in one month).
WITH received AS (
    SELECT agency_id, month, min(received_at) AS first_received_at, count(DISTINCT source_path) AS files
    FROM raw_submissions
    WHERE agency_id IS NOT NULL AND month IS NOT NULL
    GROUP BY agency_id, month
),

as_of AS (
    SELECT CAST(timezone('Europe/London', max(received_at)) AS DATE) AS as_of_date FROM raw_submissions
),

months AS (
    SELECT CAST(range AS DATE) AS month
    FROM range((SELECT min(month) FROM received), (SELECT max(month) FROM received) + INTERVAL 1 MONTH,
               INTERVAL 1 MONTH)
),

-- A return is due by the agency's cadence (sources.yaml): every month, at each quarter's end, in March (a
-- financial year), in December (a calendar year); a rolling 12 months every month (rolling_12_months) or at each
-- quarter's end (rolling_12_months_quarterly) or once a year, in the month its year ends (yearly, year_end_month).
-- Nothing is due before the agency's first month, so a yearly or quarterly reporter is never "missing" the months
-- between.
expected AS (
    SELECT
        agencies.agency_id,
        agencies.agency_name,
        months.month,
        CAST(months.month + INTERVAL 1 MONTH + (agencies.return_due_day - 1) * INTERVAL 1 DAY AS DATE) AS due_date,
        CASE WHEN list_contains(agencies.cadence, 'monthly') THEN period_name('month', months.month, months.month)
            ELSE concat_ws(' and ',
                CASE WHEN list_contains(agencies.cadence, 'quarterly') AND month(months.month) IN (3, 6, 9, 12)
                    THEN period_name('quarter', CAST(months.month - INTERVAL 2 MONTH AS DATE), months.month) END,
                CASE WHEN list_contains(agencies.cadence, 'financial_year') AND month(months.month) = 3
                    THEN period_name('financial_year', CAST(months.month - INTERVAL 11 MONTH AS DATE), months.month) END,
                CASE WHEN list_contains(agencies.cadence, 'calendar_year') AND month(months.month) = 12
                    THEN strftime(months.month, '%Y') END,
                CASE WHEN list_contains(agencies.cadence, 'rolling_12_months')
                    OR (list_contains(agencies.cadence, 'rolling_12_months_quarterly')
                        AND month(months.month) IN (3, 6, 9, 12))
                    OR (list_contains(agencies.cadence, 'yearly') AND month(months.month) = agencies.year_end_month)
                    THEN period_name('rolling_12_months', months.month, months.month) END) END AS period_name
    FROM stg_agencies AS agencies CROSS JOIN months
    WHERE agencies.connector IN ('file_drop', 'http') AND months.month >= agencies.first_month
        AND (list_has_any(agencies.cadence, ['monthly', 'rolling_12_months'])
            OR (list_has_any(agencies.cadence, ['quarterly', 'rolling_12_months_quarterly'])
                AND month(months.month) IN (3, 6, 9, 12))
            OR (list_contains(agencies.cadence, 'financial_year') AND month(months.month) = 3)
            OR (list_contains(agencies.cadence, 'calendar_year') AND month(months.month) = 12)
            OR (list_contains(agencies.cadence, 'yearly') AND month(months.month) = agencies.year_end_month))
),

final AS (
    SELECT
        expected.agency_id,
        expected.agency_name,
        expected.month,
        expected.period_name,
        expected.due_date,
        received.first_received_at,
        coalesce(received.files, 0) AS files_received,
        CASE
            WHEN received.first_received_at IS NULL AND expected.due_date < as_of.as_of_date THEN 'missing'
            WHEN received.first_received_at IS NULL THEN 'not_yet_due'
            WHEN CAST(timezone('Europe/London', received.first_received_at) AS DATE) <= expected.due_date
                THEN 'received'
            ELSE 'late'
        END AS status
    FROM expected
    CROSS JOIN as_of
    LEFT JOIN received USING (agency_id, month)
)

SELECT * FROM final ORDER BY agency_id, month
