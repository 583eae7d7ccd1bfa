-- Archived copies deleted by the retention policy (config/housekeeping.yaml). Their raw_submissions rows stay:
-- what was received, when, and its checksum remain on record after the bytes are gone.
CREATE TABLE IF NOT EXISTS archive_purges (
    archive_path VARCHAR PRIMARY KEY, -- relative to data/archive/
    sha256       VARCHAR NOT NULL,
    purged_at    TIMESTAMPTZ NOT NULL, -- UTC
    reason       VARCHAR NOT NULL
);
