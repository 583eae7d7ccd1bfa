-- Files whose row accounting does not add up (macro accounting_adds_up): rows read must be the rows accepted plus
-- the rows quarantined, with the rows of markers only among those accepted. The writer refuses such rows; this
-- finds any that reached the table another way.
SELECT return_type, agency_id, month, source_file, sha256, file_status,
    rows_read, rows_accepted, rows_quarantined, rows_markers_only
FROM submission_accounting
WHERE NOT accounting_adds_up(rows_read, rows_accepted, rows_quarantined, rows_markers_only)
ORDER BY return_type, source_file, sha256
