-- Services with figures in the warehouse (staged, or in the facts that the KPI tables and published files are built
-- from) whose id the service catalogue no longer has: renamed or removed there. Months built before the change keep
-- them published under the old id, so the warning check `services_in_catalogue` names each service, with its agency
-- and the months it has figures for. Re-running those months sets its rows aside as unknown_service.
WITH figures AS (
    SELECT service_id, agency_id, period_start AS month FROM stg_transactions
    UNION ALL
    SELECT service_id, agency_id, period_start FROM stg_costs
    UNION ALL
    SELECT service_id, agency_id, period_start FROM stg_satisfaction
    UNION ALL
    SELECT service_id, agency_id, month FROM fct_service_month_channel
)

SELECT service_id, agency_id, strftime(min(month), '%Y-%m') AS first_month, strftime(max(month), '%Y-%m') AS last_month
FROM figures
WHERE service_id NOT IN (SELECT service_id FROM stg_service_catalogue)
GROUP BY ALL
ORDER BY service_id, agency_id
