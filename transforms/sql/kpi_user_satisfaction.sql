-- User satisfaction, from raw rating counts (1 = very dissatisfied .. 5 = very satisfied), per channel surveyed
-- and for the whole service ('all', the sum of the channels surveyed). Two methods, kept apart:
--   satisfaction_score (GOV.UK): (mean rating - 1) / 4, 0..1; 95% interval by the normal approximation.
--   satisfied_share (top-2-box): (satisfied + very satisfied) / responses, 0..1; 95% Wilson interval.
-- No responses give NULL.
WITH by_channel AS (
    -- both formulas are the macros of formulas.sql
    SELECT service_id, month, channel, rating_1, rating_2, rating_3, rating_4, rating_5
    FROM fct_service_month_channel WHERE responses IS NOT NULL
),

by_service AS (
    SELECT service_id, month, 'all' AS channel,
        CAST(sum(rating_1) AS BIGINT) AS rating_1, CAST(sum(rating_2) AS BIGINT) AS rating_2, CAST(sum(rating_3) AS BIGINT) AS rating_3,
        CAST(sum(rating_4) AS BIGINT) AS rating_4, CAST(sum(rating_5) AS BIGINT) AS rating_5
    FROM by_channel GROUP BY service_id, month
),

counted AS (
    SELECT *, rating_1 + rating_2 + rating_3 + rating_4 + rating_5 AS responses,
        NULLIF(rating_1 + rating_2 + rating_3 + rating_4 + rating_5, 0) AS n
    FROM (SELECT * FROM by_channel UNION ALL SELECT * FROM by_service)
),

scored AS (
    SELECT
        *,
        satisfaction_score(rating_1, rating_2, rating_3, rating_4, rating_5) AS score,
        satisfied_share(rating_1, rating_2, rating_3, rating_4, rating_5) AS share
    FROM counted
),

spread AS (
    SELECT
        *,
        sqrt((rating_1 * score ^ 2 + rating_2 * (0.25 - score) ^ 2 + rating_3 * (0.5 - score) ^ 2
              + rating_4 * (0.75 - score) ^ 2 + rating_5 * (1 - score) ^ 2) / n / n) AS score_se,
        1.959964 AS z
    FROM scored
),

final AS (
    SELECT
        service_id,
        month,
        channel,
        responses,
        rating_1, rating_2, rating_3, rating_4, rating_5,
        score AS satisfaction_score,
        -- greatest/least skip NULLs, so no responses must be kept NULL explicitly
        CASE WHEN n IS NOT NULL THEN greatest(0, score - z * score_se) END AS satisfaction_score_ci_low,
        CASE WHEN n IS NOT NULL THEN least(1, score + z * score_se) END AS satisfaction_score_ci_high,
        share AS satisfied_share,
        (share + z ^ 2 / (2 * n) - z * sqrt(share * (1 - share) / n + z ^ 2 / (4 * n ^ 2)))
            / (1 + z ^ 2 / n) AS satisfied_share_ci_low,
        (share + z ^ 2 / (2 * n) + z * sqrt(share * (1 - share) / n + z ^ 2 / (4 * n ^ 2)))
            / (1 + z ^ 2 / n) AS satisfied_share_ci_high
    FROM spread
)

SELECT * FROM final ORDER BY service_id, month, channel
