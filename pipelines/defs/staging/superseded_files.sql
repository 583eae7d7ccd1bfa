-- Earlier versions of files sent again (the same agency, month and name: one source_path), each once, with the
-- sha256 of the version in force: accounted for as superseded, never staged, never silently gone. A version sent
-- again after another (A, B, then A) is the version in force, not superseded by itself. Months in [$start, $end) and
-- the run's agencies ($agencies NULL: all); files with no month (central files, records) are all listed.
SELECT DISTINCT
    'superseded' AS return_type,
    old.agency_id, old.month, old.source_path AS source_file, old.sha256,
    'superseded' AS file_status, 0 AS rows_read, 0 AS rows_accepted, 0 AS rows_quarantined,
    0 AS rows_markers_only, now.sha256 AS superseded_by
FROM raw_submissions AS old
JOIN current_submissions AS now USING (source_path)
WHERE old.sha256 <> now.sha256
    AND (old.month IS NULL OR (old.month >= $start AND old.month < $end
        AND ($agencies::VARCHAR[] IS NULL OR list_contains($agencies::VARCHAR[], old.agency_id))))
ORDER BY source_file, old.sha256
