-- fct_service_month_channel: one row per service x month x channel the service offers, months in [$start, $end).
-- Monthly figures only: figures sent for quarters or years stay at their grain (fct_service_period_channel).
-- A channel the catalogue lists but with no accepted figures is "not provided" (NULL), never zero; a channel the
-- service does not offer has no row ("not applicable"). Rows exist only for what was sent or was due: a month is
-- due from an agency whose cadence is monthly, from its first month on (an agency not in the registry table is
-- taken as monthly); a quarterly or yearly reporter has no empty months. A month whose return said which channels
-- the service offered then (stg_transactions.channels_offered, where in force) has those channels, not the
-- catalogue's: each month is judged against the facts of its own period.
-- Costs per channel (DESIGN 4): the channel's direct cost plus the service's shared costs apportioned by the
-- channel's share of completed transactions. Apportioning needs every channel's volume: otherwise NULL.
WITH months AS (
    SELECT CAST(range AS DATE) AS month FROM range(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 MONTH)
),

offered AS (
    SELECT service_id, agency_id, unnest(channels_offered) AS channel FROM stg_service_catalogue
),

transactions AS (
    SELECT service_id, month, channel, transactions_started, transactions_completed
    FROM stg_transactions WHERE month >= $start AND month < $end AND grain = 'month'
    UNION ALL
    -- agencies that send transaction-level extracts (an agency sends one kind or the other: mapping `extract`)
    SELECT service_id, month, channel, transactions_started, transactions_completed
    FROM stg_extract_transactions WHERE month >= $start AND month < $end AND channel <> 'all'
),

costs AS (
    SELECT service_id, month, channel, cost_gbp FROM stg_costs
    WHERE month >= $start AND month < $end AND grain = 'month'
),

direct_costs AS (
    SELECT service_id, month, channel, exact_sum(cost_gbp) AS cost_direct_gbp
    FROM costs WHERE channel <> 'shared' GROUP BY ALL
),

service_costs AS (
    SELECT service_id, month, coalesce(exact_sum(CASE WHEN channel = 'shared' THEN cost_gbp END), 0) AS cost_shared_gbp
    FROM costs GROUP BY ALL
),

ratings AS (
    SELECT service_id, month, channel, rating_1, rating_2, rating_3, rating_4, rating_5
    FROM stg_satisfaction WHERE month >= $start AND month < $end AND grain = 'month'
    UNION ALL
    -- survey counts sent as Performance-Platform records (an agency sends one kind or the other)
    SELECT service_id, month, channel,
        CAST(sum(value) FILTER (WHERE measure = 'rating_1') AS BIGINT),
        CAST(sum(value) FILTER (WHERE measure = 'rating_2') AS BIGINT),
        CAST(sum(value) FILTER (WHERE measure = 'rating_3') AS BIGINT),
        CAST(sum(value) FILTER (WHERE measure = 'rating_4') AS BIGINT),
        CAST(sum(value) FILTER (WHERE measure = 'rating_5') AS BIGINT)
    FROM stg_reported_figures
    WHERE month >= $start AND month < $end AND measure LIKE 'rating_%'
    GROUP BY service_id, month, channel
    HAVING count(DISTINCT measure) = 5
),

due AS (
    SELECT offered.service_id, months.month
    FROM (SELECT DISTINCT service_id, agency_id FROM offered) AS offered
    CROSS JOIN months
    LEFT JOIN stg_agencies USING (agency_id)
    WHERE list_contains(coalesce(stg_agencies.cadence, ['monthly']), 'monthly')
        AND months.month >= coalesce(stg_agencies.first_month, DATE '2000-01-01')
    UNION
    SELECT service_id, month FROM transactions
    UNION
    SELECT service_id, month FROM costs
    UNION
    SELECT service_id, month FROM ratings
),

stated AS (
    SELECT service_id, month, any_value(channels_offered) AS channels_offered
    FROM stg_transactions
    WHERE month >= $start AND month < $end AND grain = 'month' AND channels_offered IS NOT NULL
    GROUP BY ALL
),

scaffold AS (
    SELECT offered.service_id, offered.agency_id, due.month, offered.channel
    FROM offered JOIN due USING (service_id)
    ANTI JOIN stated USING (service_id, month)
    UNION ALL
    SELECT stated.service_id, services.agency_id, stated.month, unnest(stated.channels_offered) AS channel
    FROM stated JOIN stg_service_catalogue AS services USING (service_id)
),

joined AS (
    SELECT
        scaffold.*,
        transactions.transactions_started,
        transactions.transactions_completed,
        -- a service that sent costs this month has 0 direct cost on a channel it gave none for
        CASE WHEN service_costs.service_id IS NOT NULL THEN coalesce(direct_costs.cost_direct_gbp, 0) END
            AS cost_direct_gbp,
        service_costs.cost_shared_gbp,
        ratings.rating_1, ratings.rating_2, ratings.rating_3, ratings.rating_4, ratings.rating_5
    FROM scaffold
    LEFT JOIN transactions USING (service_id, month, channel)
    LEFT JOIN direct_costs USING (service_id, month, channel)
    LEFT JOIN service_costs USING (service_id, month)
    LEFT JOIN ratings USING (service_id, month, channel)
),

apportioned AS (
    SELECT
        *,
        CASE
            WHEN cost_shared_gbp IS NULL THEN NULL
            WHEN cost_shared_gbp = 0 THEN 0
            WHEN count(transactions_completed) OVER service_month = count(*) OVER service_month
                AND sum(transactions_completed) OVER service_month > 0
                THEN cost_shared_gbp * transactions_completed / sum(transactions_completed) OVER service_month
        END AS cost_shared_apportioned_gbp
    FROM joined
    WINDOW service_month AS (PARTITION BY service_id, month)
),

final AS (
    SELECT
        service_id,
        agency_id,
        month,
        channel,
        CASE channel WHEN 'online' THEN 'digital' WHEN 'assisted_digital' THEN 'assisted_digital'
            ELSE 'non_digital' END AS channel_type,
        transactions_started,
        transactions_completed,
        round(cost_direct_gbp, 2) AS cost_direct_gbp,
        round(cost_shared_apportioned_gbp, 2) AS cost_shared_apportioned_gbp,
        round(cost_direct_gbp + cost_shared_apportioned_gbp, 2) AS cost_gbp,
        rating_1, rating_2, rating_3, rating_4, rating_5,
        rating_1 + rating_2 + rating_3 + rating_4 + rating_5 AS responses
    FROM apportioned
)

SELECT * FROM final ORDER BY service_id, month, channel
