-- Published by the benefits work; until then one row with is_published false (the failed insert is ignored; Evidence
-- cannot load an empty result), so the channel-shift page shows the savings only once they are published.
create table channel_shift_savings (service_id varchar, agency_id varchar, month date, baseline_month date,
    shifted_transactions bigint, theoretical_saving_gbp double, counterfactual_saving_gbp double,
    theoretical_saving_cumulative_gbp double, counterfactual_saving_cumulative_gbp double, missing_inputs varchar, is_published boolean);
insert into channel_shift_savings
select service_id, agency_id, month, baseline_month, shifted_transactions, theoretical_saving_gbp,
    counterfactual_saving_gbp, theoretical_saving_cumulative_gbp, counterfactual_saving_cumulative_gbp,
    coalesce(missing_inputs, ''), true
from read_parquet('${published_dir}/channel_shift_savings.parquet');
select * from channel_shift_savings
union all by name
select false as is_published where not exists (select 1 from channel_shift_savings)
