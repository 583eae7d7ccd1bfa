-- Published user satisfaction: a figure from fewer responses than the publication threshold (README, "Dashboards
-- and open data") is suppressed: the score, the share, their intervals and the rating counts (from which both
-- could be recomputed) are left empty and suppression_note says why. The number of responses stays.
SELECT
    * EXCLUDE (small) REPLACE (
        CASE WHEN NOT small THEN rating_1 END AS rating_1,
        CASE WHEN NOT small THEN rating_2 END AS rating_2,
        CASE WHEN NOT small THEN rating_3 END AS rating_3,
        CASE WHEN NOT small THEN rating_4 END AS rating_4,
        CASE WHEN NOT small THEN rating_5 END AS rating_5,
        CASE WHEN NOT small THEN satisfaction_score END AS satisfaction_score,
        CASE WHEN NOT small THEN satisfaction_score_ci_low END AS satisfaction_score_ci_low,
        CASE WHEN NOT small THEN satisfaction_score_ci_high END AS satisfaction_score_ci_high,
        CASE WHEN NOT small THEN satisfied_share END AS satisfied_share,
        CASE WHEN NOT small THEN satisfied_share_ci_low END AS satisfied_share_ci_low,
        CASE WHEN NOT small THEN satisfied_share_ci_high END AS satisfied_share_ci_high
    ),
    CASE WHEN small THEN 'suppressed: fewer than ' || $min_responses || ' responses' END AS suppression_note
FROM (SELECT *, responses > 0 AND responses < $min_responses AS small FROM kpi_user_satisfaction)
