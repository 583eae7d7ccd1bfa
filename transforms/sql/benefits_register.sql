-- The benefits register as published: the staged register (HM Treasury Green Book fields) one row per benefit, its
-- planned trajectory written back as text, 'YYYY-MM=value' points separated by '; ' (empty: a straight line from
-- baseline to target). service_id is one service or a group separated by ';'.
SELECT
    * REPLACE (
        array_to_string(list_transform(
            list_sort(trajectory), lambda point: strftime(point.month, '%Y-%m') || '=' || point.planned_value), '; ')
            AS trajectory)
FROM stg_benefits_register
ORDER BY benefit_id
