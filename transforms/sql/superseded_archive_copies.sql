-- Archived copies that no version in force uses (every source path that sent these bytes has sent a newer version
-- since), last received before $cutoff and not yet purged: what the raw-archive retention may delete.
SELECT archive_path, any_value(sha256) AS sha256, max(received_at) AS last_received_at
FROM raw_submissions
WHERE archive_path NOT IN (SELECT archive_path FROM current_submissions)
  AND archive_path NOT IN (SELECT archive_path FROM archive_purges)
GROUP BY archive_path
HAVING max(received_at) < $cutoff
ORDER BY archive_path
