-- Formulas used by more than one query (GOV.UK Service Manual definitions): macros of the in-memory database the
-- warehouse is attached to (pipelines/lib/warehouse.py), defined once a process, never written to the warehouse file.
-- User satisfaction from rating counts, 1 = very dissatisfied .. 5 = very satisfied; no responses give NULL.
-- GOV.UK score: (mean rating - 1) / 4, i.e. weights 0, .25, .5, .75, 1; 0..1.
CREATE OR REPLACE MACRO satisfaction_score(r1, r2, r3, r4, r5) AS
    (0.25 * r2 + 0.5 * r3 + 0.75 * r4 + r5) / NULLIF(r1 + r2 + r3 + r4 + r5, 0);
-- Top-2-box share: (satisfied + very satisfied) / responses; 0..1.
CREATE OR REPLACE MACRO satisfied_share(r1, r2, r3, r4, r5) AS
    (r4 + r5) / NULLIF(r1 + r2 + r3 + r4 + r5, 0);
-- Cost per transaction: total cost / completed transactions, GBP; zero transactions give NULL.
CREATE OR REPLACE MACRO cost_per_transaction(cost_gbp, completed) AS cost_gbp / NULLIF(completed, 0);
-- Cost per transaction as published, GBP to 4 decimals. A completed transaction always costs something, so a figure
-- that is 0 at 4 decimals (costs of 0, or under GBP 0.00005 a transaction: a count near 2^53) is impossible: it is
-- withheld (NULL), and cost_per_transaction_withheld says why, rather than published as 0 or failing the table.
CREATE OR REPLACE MACRO published_cost_per_transaction(cost_gbp, completed) AS
    CASE WHEN round(cost_per_transaction(cost_gbp, completed), 4) > 0
        THEN round(cost_per_transaction(cost_gbp, completed), 4) END;
CREATE OR REPLACE MACRO cost_per_transaction_withheld(cost_gbp, completed) AS CASE
    WHEN completed > 0 AND cost_gbp = 0
        THEN 'cost per transaction withheld: costs add up to 0 for ' || completed || ' completed transactions'
    WHEN round(cost_per_transaction(cost_gbp, completed), 4) = 0
        THEN 'cost per transaction withheld: GBP ' || cost_gbp || ' for ' || completed
            || ' completed transactions is under GBP 0.00005 a transaction (0 at 4 decimals)' END;
-- Digital take-up: completed digital (online) transactions / all completed transactions; 0..1.
CREATE OR REPLACE MACRO digital_take_up(digital, completed) AS digital / NULLIF(completed, 0);
-- Completion rate: completed / started; 0..1.
CREATE OR REPLACE MACRO completion_rate(completed, started) AS completed / NULLIF(started, 0);
-- A file's row accounting adds up (submission_accounting): every row read was accepted or quarantined, and the rows
-- of markers only (not provided) are some of those accepted. Kept by the writer (pipelines/lib/quarantine.py) and
-- checked over the table (the blocking check accounting_adds_up).
CREATE OR REPLACE MACRO accounting_adds_up(rows_read, rows_accepted, rows_quarantined, rows_markers_only) AS
    coalesce(rows_read = rows_accepted + rows_quarantined AND least(rows_accepted, rows_quarantined) >= 0
        AND coalesce(rows_markers_only, 0) BETWEEN 0 AND rows_accepted, false);
-- An order-independent sum of a DOUBLE column: each value as an exact decimal (to 1e-6, up to 1e32), added exactly,
-- then one conversion back, so the same rows give the same bits whatever order a plan (or an incremental run) adds
-- them in. Plain sum() of doubles depends on that order. For a sum under FILTER write exact_sum(CASE WHEN ...).
CREATE OR REPLACE MACRO exact_sum(x) AS CAST(sum(CAST(x AS DECIMAL(38, 6))) AS DOUBLE);
-- A period named as people name it, the one vocabulary of periods (tables, pages and the ministers' summary all
-- read it; transforms/periods.py's period_name evaluates it for Python): March 2025 (a month); Q3 2025-26 (Oct-Dec
-- 2025) (a quarter, numbered in its April-March financial year, with its months, so it cannot be read as a calendar
-- quarter); 2018-19 (a financial year, April to March); 12 months to Sep 2017 (a rolling year); Jul 2023 to Jun 2024
-- (any other span).
CREATE OR REPLACE MACRO period_name(grain, period_start, period_end) AS CASE grain
    WHEN 'month' THEN strftime(period_start, '%B %Y')
    WHEN 'quarter' THEN printf('Q%d %d-%02d (%s-%s %d)', (month(period_start) + 8) % 12 // 3 + 1,
        year(period_start) - (month(period_start) < 4)::INT, (year(period_start) + (month(period_start) >= 4)::INT) % 100,
        strftime(period_start, '%b'), strftime(period_start + INTERVAL 2 MONTH, '%b'), year(period_start))
    WHEN 'financial_year' THEN printf('%d-%02d', year(period_start), (year(period_start) + 1) % 100)
    WHEN 'rolling_12_months' THEN '12 months to ' || strftime(period_end, '%b %Y')
    ELSE strftime(period_start, '%b %Y') || ' to ' || strftime(period_end, '%b %Y') END;
-- Statistical disclosure control (README, "Suppression"), the one place of its threshold: a user-satisfaction figure
-- (score, share, their numerators and denominators, intervals, rating counts, a roll-up's value and change) from
-- fewer than satisfaction_min_responses() responses is never published; suppression_note says why instead. The
-- catalogue (Table.satisfaction) names the tables and columns it applies to.
CREATE OR REPLACE MACRO satisfaction_min_responses() AS 30;
-- Whether the figures from `responses` responses are withheld: some responses, but too few (none is no figure).
CREATE OR REPLACE MACRO satisfaction_suppressed(responses) AS
    coalesce(responses > 0 AND responses < satisfaction_min_responses(), false);
-- A satisfaction figure as published: empty when it comes from too few responses.
CREATE OR REPLACE MACRO satisfaction_published(figure, responses) AS
    CASE WHEN NOT satisfaction_suppressed(responses) THEN figure END;
-- What stands where a figure is withheld: 'suppressed: fewer than 30 responses'; NULL when nothing is.
CREATE OR REPLACE MACRO suppression_note(responses) AS
    CASE WHEN satisfaction_suppressed(responses)
        THEN 'suppressed: fewer than ' || satisfaction_min_responses() || ' responses' END;
