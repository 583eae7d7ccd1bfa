-- satisfaction_method_drift: where a source reports a satisfaction percentage beside the rating counts behind it,
-- both methods are recomputed from the counts and the reported figure is matched to them, month by
-- month: gov_uk_score_percent = 100 x (mean rating - 1) / 4; top_2_box_percent = 100 x share satisfied or very
-- satisfied. A method matches when the reported figure is within 0.5 of it (publishers round to whole percent).
-- method_changed: the month's single matching method differs from the last single match before it.
WITH pivoted AS (
    SELECT
        service_id, month, channel,
        sum(value) FILTER (WHERE measure = 'rating_1') AS rating_1,
        sum(value) FILTER (WHERE measure = 'rating_2') AS rating_2,
        sum(value) FILTER (WHERE measure = 'rating_3') AS rating_3,
        sum(value) FILTER (WHERE measure = 'rating_4') AS rating_4,
        sum(value) FILTER (WHERE measure = 'rating_5') AS rating_5,
        any_value(value) FILTER (WHERE measure = 'reported_satisfaction_percent') AS reported_percent
    FROM stg_reported_figures
    GROUP BY service_id, month, channel
),

scored AS (
    SELECT
        *,
        CAST(rating_1 + rating_2 + rating_3 + rating_4 + rating_5 AS BIGINT) AS responses,
        100 * satisfaction_score(rating_1, rating_2, rating_3, rating_4, rating_5) AS gov_uk_score_percent,
        100 * satisfied_share(rating_1, rating_2, rating_3, rating_4, rating_5) AS top_2_box_percent
    FROM pivoted
    WHERE reported_percent IS NOT NULL
        AND rating_1 IS NOT NULL AND rating_2 IS NOT NULL AND rating_3 IS NOT NULL
        AND rating_4 IS NOT NULL AND rating_5 IS NOT NULL
),

matched AS (
    SELECT
        *,
        CASE
            WHEN abs(reported_percent - gov_uk_score_percent) <= 0.5
                AND abs(reported_percent - top_2_box_percent) <= 0.5 THEN 'both'
            WHEN abs(reported_percent - gov_uk_score_percent) <= 0.5 THEN 'gov_uk_score'
            WHEN abs(reported_percent - top_2_box_percent) <= 0.5 THEN 'top_2_box'
            ELSE 'neither'
        END AS reported_method
    FROM scored
),

final AS (
    SELECT
        service_id, month, channel, responses, reported_percent,
        round(gov_uk_score_percent, 2) AS gov_uk_score_percent,
        round(top_2_box_percent, 2) AS top_2_box_percent,
        reported_method,
        coalesce(reported_method IN ('gov_uk_score', 'top_2_box') AND reported_method <> last_value(
            CASE WHEN reported_method IN ('gov_uk_score', 'top_2_box') THEN reported_method END IGNORE NULLS)
            OVER (PARTITION BY service_id, channel ORDER BY month
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS method_changed
    FROM matched
)

SELECT * FROM final ORDER BY service_id, channel, month
