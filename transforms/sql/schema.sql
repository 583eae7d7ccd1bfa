-- The warehouse's own tables: the raw archive manifest, staged returns, quarantine and row accounting.
-- Facts and KPI marts are created by their own SQL files. Months are DATEs on the first of the month.

CREATE TABLE IF NOT EXISTS raw_submissions (
    source_path   VARCHAR NOT NULL,   -- where the file arrived, relative to data/landing/
    sha256        VARCHAR NOT NULL,   -- checksum of the bytes as received
    size_bytes    BIGINT NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL, -- when the agency delivered this version (file time on the drop; fetch time for APIs)
    archived_at   TIMESTAMPTZ NOT NULL, -- when the pipeline first archived it
    source        VARCHAR NOT NULL,   -- connector: file_drop | http | performance_platform
    agency_id     VARCHAR,            -- NULL for central files (catalogue, benefits register)
    month         DATE,               -- the return's period; NULL for central files
    archive_path  VARCHAR NOT NULL,   -- the unchanged copy, relative to data/archive/
    -- a version sent again after another (A, B, then A) is received again: a new row, the same archive copy, even
    -- when its file time is that of the first time (so the key is the archiving time, not the file time)
    PRIMARY KEY (source_path, sha256, archived_at)
);

-- The version of each submitted file in force: the one the pipeline saw last. Earlier versions stay archived.
CREATE OR REPLACE VIEW current_submissions AS
SELECT source_path, sha256, agency_id, month, archive_path, archived_at
FROM raw_submissions
QUALIFY row_number() OVER (PARTITION BY source_path ORDER BY archived_at DESC, sha256) = 1;

-- The source registry as of the last run (config/sources.yaml), for due dates and names in SQL.
CREATE TABLE IF NOT EXISTS stg_agencies (
    agency_id VARCHAR PRIMARY KEY, agency_name VARCHAR NOT NULL, department VARCHAR NOT NULL,
    connector VARCHAR NOT NULL, return_due_day INTEGER NOT NULL, -- day of the following month the return is due
    cadence VARCHAR[] NOT NULL,  -- monthly | quarterly | financial_year | calendar_year | rolling_12_months(_quarterly)
    first_month DATE NOT NULL    -- the first month a return is due (sources.yaml first_month)
);

CREATE TABLE IF NOT EXISTS stg_service_catalogue (
    service_id        VARCHAR PRIMARY KEY,
    service_name      VARCHAR NOT NULL,
    agency_id         VARCHAR NOT NULL,
    department        VARCHAR NOT NULL,
    category          VARCHAR,            -- free text, as the publisher names it; NULL: not given
    customer_type     VARCHAR,            -- free text (citizen, business, Individuals, ...); NULL: not given
    channels_offered  VARCHAR[],          -- channels the service has; a channel not here is "not applicable";
                                          -- NULL: nobody says which channels it offers (unknown)
    high_volume       BOOLEAN,            -- 1 million or more transactions a year; NULL: not given
    live_from         DATE                -- the month the service started; NULL: before any data we hold
);

-- Every description of a service in an agency's own files (a mapping's `catalogue`), one row per service and file,
-- the latest file's included: the service's facts for the periods that file's returns cover (stg_service_catalogue
-- keeps one description per service, the one in force now).
CREATE TABLE IF NOT EXISTS stg_service_facts (
    service_id VARCHAR NOT NULL, agency_id VARCHAR NOT NULL, service_name VARCHAR NOT NULL,
    department VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL   -- the file that said them, relative to data/landing/
);

CREATE TABLE IF NOT EXISTS stg_transactions (
    -- the period the figure was given for; month is the month it ends in (the return's month)
    period_start DATE NOT NULL, period_end DATE NOT NULL,
    grain VARCHAR NOT NULL, -- month | quarter | financial_year | rolling_12_months | span
    service_id VARCHAR NOT NULL, month DATE NOT NULL,
    channel VARCHAR NOT NULL,      -- a channel, or 'all': figures reported for the whole service
    transactions_started BIGINT,   -- NULL: not provided
    transactions_completed BIGINT, -- NULL: not provided ('all': never; the reported total is below)
    agency_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_row BIGINT NOT NULL,
    -- reported for the whole service (channel 'all') as the publisher gave them, never computed; NULL: not reported
    reported_transactions_completed BIGINT, reported_cost_per_transaction_gbp DOUBLE,
    reported_digital_cost_per_transaction_gbp DOUBLE, reported_completion_rate DOUBLE, -- 0..1
    reported_satisfaction_rate DOUBLE, -- 0..1, method as the publisher's (not declared in the file)
    -- the channels the return says the service offers in this period, where that statement is in force over the
    -- catalogue's (mapping `channels_offered`, `service_facts`); NULL: the catalogue's channels apply
    channels_offered VARCHAR[]
);

CREATE TABLE IF NOT EXISTS stg_costs (
    -- the period the figure was given for; month is the month it ends in (the return's month)
    period_start DATE NOT NULL, period_end DATE NOT NULL,
    grain VARCHAR NOT NULL, -- month | quarter | financial_year | rolling_12_months | span
    service_id VARCHAR NOT NULL, month DATE NOT NULL, cost_category VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,      -- a channel, or 'shared' for costs no single channel carries
    cost_gbp DOUBLE NOT NULL,      -- GBP, pence precision
    agency_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_row BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS stg_satisfaction (
    -- the period the figure was given for; month is the month it ends in (the return's month)
    period_start DATE NOT NULL, period_end DATE NOT NULL,
    grain VARCHAR NOT NULL, -- month | quarter | financial_year | rolling_12_months | span
    service_id VARCHAR NOT NULL, month DATE NOT NULL, channel VARCHAR NOT NULL,
    rating_1 BIGINT NOT NULL, rating_2 BIGINT NOT NULL, rating_3 BIGINT NOT NULL,
    rating_4 BIGINT NOT NULL, rating_5 BIGINT NOT NULL, -- responses per rating, 1 = very dissatisfied
    agency_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_row BIGINT NOT NULL
);

-- Figures from Performance-Platform records, long: one row per service x month x channel x measure.
CREATE TABLE IF NOT EXISTS stg_reported_figures (
    agency_id VARCHAR NOT NULL, service_id VARCHAR NOT NULL, month DATE NOT NULL, channel VARCHAR NOT NULL,
    measure VARCHAR NOT NULL, -- rating_1..rating_5 (counts), reported_satisfaction_percent, reported_digital_take_up_percent, uptime_percent
    value DOUBLE NOT NULL,    -- a count, or a percentage 0..100 as the publisher reported it
    source_file VARCHAR NOT NULL, source_row BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS stg_benefits_register (
    benefit_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, description VARCHAR,
    service_id VARCHAR NOT NULL, -- one service, or a group of services separated by ';'
    category VARCHAR NOT NULL,  -- cashable | non-cashable | dis-benefit
    measure VARCHAR NOT NULL, unit VARCHAR NOT NULL,
    baseline_value DOUBLE NOT NULL, baseline_month DATE NOT NULL,
    target_value DOUBLE NOT NULL, target_month DATE NOT NULL,
    owner VARCHAR NOT NULL, senior_responsible_owner VARCHAR NOT NULL,
    full_year_value_gbp DOUBLE, confidence VARCHAR NOT NULL, -- high | medium | low
    trajectory STRUCT(month DATE, planned_value DOUBLE)[] -- planned points between baseline and target; NULL: a straight line
);

CREATE TABLE IF NOT EXISTS quarantine (
    return_type VARCHAR NOT NULL,   -- transactions | costs | satisfaction | service_catalogue | benefits_register | not_recognised
    agency_id VARCHAR, month DATE,
    source_file VARCHAR NOT NULL,   -- relative to data/landing/
    sha256 VARCHAR NOT NULL,
    row_number BIGINT,              -- data row, 1 = first row under the header; NULL: the whole file
    rule VARCHAR NOT NULL, column_name VARCHAR, offending_value VARCHAR, message VARCHAR NOT NULL,
    rows_represented BIGINT NOT NULL DEFAULT 1, -- 1; on the first row not listed of a file and rule, it and every later one
    service_id VARCHAR, period_start DATE, period_end DATE -- the row's service and period, when it has them
);

CREATE TABLE IF NOT EXISTS submission_accounting (
    return_type VARCHAR NOT NULL, agency_id VARCHAR, month DATE, source_file VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    file_status VARCHAR NOT NULL,   -- read | unreadable (quarantined whole) | not_recognised (no mapping reads it)
                                    -- | superseded (an earlier version of a file sent again; not staged)
    rows_read BIGINT NOT NULL, rows_accepted BIGINT NOT NULL, rows_quarantined BIGINT NOT NULL,
    rows_markers_only BIGINT,   -- of the rows accepted, those whose every figure was a marker (not provided)
    superseded_by VARCHAR       -- superseded: the sha256 of the version in force (the same file, sent later)
);

-- Transaction-level extracts, aggregated per service x month x channel offered and per service ('all') by
-- transforms/sql/extract_aggregates.sql (pipelines/defs/staging/extracts.py); the rows themselves stay in the archived files.
CREATE TABLE IF NOT EXISTS stg_extract_transactions (
    agency_id VARCHAR NOT NULL, service_id VARCHAR NOT NULL, month DATE NOT NULL,
    channel VARCHAR NOT NULL,                -- a channel, or 'all' for the whole service
    transactions_started BIGINT NOT NULL, transactions_completed BIGINT NOT NULL,
    time_to_complete_median_seconds DOUBLE,  -- seconds; NULL: none completed
    time_to_complete_p90_seconds DOUBLE
);

-- Extract files aggregated where they live (registry `extract_location`, engine spark) and so not copied into the
-- archive: what was read, with its size and checksum, and the run whose outputs hold its figures.
CREATE TABLE IF NOT EXISTS extract_manifest (
    agency_id VARCHAR NOT NULL, month DATE NOT NULL,
    uri VARCHAR NOT NULL, size_bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);

-- Published KPI figures that changed when a corrected or late return arrived: from what to what, and when.
CREATE TABLE IF NOT EXISTS revisions (
    table_name VARCHAR NOT NULL, service_id VARCHAR NOT NULL, month DATE NOT NULL,
    channel VARCHAR,            -- NULL for tables without channels
    column_name VARCHAR NOT NULL,
    old_value DOUBLE, new_value DOUBLE, -- NULL: not provided (or the row no longer exists)
    revised_at TIMESTAMPTZ,     -- when the newest submission behind the rebuild was received
    grain VARCHAR,              -- tables by period (kpi_by_period): the period's grain, month = its start
    source VARCHAR              -- tables by period: submitted or rolled up
);
