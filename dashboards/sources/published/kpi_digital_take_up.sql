-- Digital take-up per service and month; without an online channel the figures are not applicable (NULL here,
-- with a per-row format printing "not applicable"), never a take-up of 0%.
select * replace (
        case when digital_channel_offered then digital_take_up_rate end as digital_take_up_rate,
        case when digital_channel_offered then take_up_change_pp end as take_up_change_pp,
        case when digital_channel_offered then shifted_transactions end as shifted_transactions,
        coalesce(missing_inputs, '') as missing_inputs),
    case when digital_channel_offered then '#,##0.0%' else '"not applicable"' end as take_up_fmt,
    case when digital_channel_offered then '+0.0" pp";-0.0" pp";0.0" pp"' else '"not applicable"' end
        as take_up_change_fmt,
    case when digital_channel_offered then '#,##0' else '"not applicable"' end as shifted_fmt
from read_parquet('${published_dir}/kpi_digital_take_up.parquet')
