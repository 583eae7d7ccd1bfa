-- Digital take-up (GOV.UK Service Manual): completed digital (online) transactions / all completed transactions
-- in the same month, 0..1. Assisted digital is reported separately and is not in the numerator. NULL when any
-- offered channel's volume is not provided (missing_inputs names them). A service with no online channel has
-- digital take-up 0 (digital_channel_offered = false): none of its transactions can be digital.
-- Channel shift: take_up_change_pp = (take-up now - take-up in baseline_month) x 100, percentage points,
-- where baseline_month is the service's first month with a take-up figure; shifted_transactions =
-- (take-up now - take-up at baseline) x completed transactions now.
-- A month whose channels cannot be added up (some not provided) but for which the agency reported a total for the
-- whole service takes that total (total_basis 'reported_total'; else 'channels'): take-up = digital / reported
-- total, for a publisher that sends only those two.
WITH reported AS (
    SELECT service_id, period_start AS month, reported_transactions_completed
    FROM stg_transactions
    WHERE grain = 'month' AND channel = 'all' AND reported_transactions_completed IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY service_id, period_start ORDER BY month DESC) = 1
),

per_channel AS (
    SELECT
        service_id,
        month,
        bool_or(channel = 'online') AS digital_channel_offered,
        CASE WHEN count(transactions_completed) = count(*) THEN CAST(sum(transactions_completed) AS BIGINT) END
            AS transactions_completed,
        CASE WHEN bool_or(channel = 'online') THEN CAST(sum(transactions_completed) FILTER (WHERE channel = 'online') AS BIGINT)
            ELSE 0 END AS digital_transactions_completed,
        CASE WHEN bool_or(channel = 'assisted_digital')
            THEN CAST(sum(transactions_completed) FILTER (WHERE channel = 'assisted_digital') AS BIGINT)
            ELSE 0 END AS assisted_digital_transactions_completed,
        string_agg(channel, ';' ORDER BY channel) FILTER (WHERE transactions_completed IS NULL)
            AS channels_not_provided
    FROM fct_service_month_channel
    GROUP BY service_id, month
),

per_service AS (
    SELECT per_channel.* REPLACE (
            coalesce(per_channel.transactions_completed, reported.reported_transactions_completed)
                AS transactions_completed),
        CASE WHEN per_channel.transactions_completed IS NOT NULL THEN 'channels'
            WHEN reported.reported_transactions_completed IS NOT NULL THEN 'reported_total' END AS total_basis,
        reported.reported_transactions_completed
    FROM per_channel LEFT JOIN reported USING (service_id, month)
),

rates AS (
    SELECT *, digital_take_up(digital_transactions_completed, transactions_completed) AS digital_take_up_rate
    FROM per_service
),

baselines AS (
    SELECT service_id, min(month) FILTER (WHERE digital_take_up_rate IS NOT NULL) AS baseline_month
    FROM rates GROUP BY service_id
),

final AS (
    SELECT
        rates.service_id,
        rates.month,
        rates.transactions_completed,
        rates.digital_transactions_completed,
        rates.assisted_digital_transactions_completed,
        rates.digital_take_up_rate,
        baselines.baseline_month,
        (rates.digital_take_up_rate - baseline.digital_take_up_rate) * 100 AS take_up_change_pp,
        CAST(round((rates.digital_take_up_rate - baseline.digital_take_up_rate) * rates.transactions_completed) AS BIGINT)
            AS shifted_transactions,
        rates.digital_channel_offered,
        rates.total_basis,
        rates.reported_transactions_completed,
        CASE WHEN rates.channels_not_provided IS NOT NULL
            AND (rates.total_basis IS NULL OR rates.digital_transactions_completed IS NULL)
            THEN 'volume not provided: ' || rates.channels_not_provided END AS missing_inputs
    FROM rates
    LEFT JOIN baselines USING (service_id)
    LEFT JOIN rates AS baseline
        ON baseline.service_id = rates.service_id AND baseline.month = baselines.baseline_month
)

SELECT * FROM final ORDER BY service_id, month
