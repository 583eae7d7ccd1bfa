-- Published by the benefits work; until then one row with is_published false (the failed insert is ignored; Evidence
-- cannot load an empty result), so the benefits page says the tables are not published yet instead of failing.
create table benefits_realisation (benefit_id varchar, month date, title varchar, service_id varchar,
    category varchar, measure varchar, unit varchar, baseline_month date, baseline_value double, target_month date,
    target_value double, planned_value double, actual_value double, variance double,
    share_of_target_realised double, rag_status varchar, forecast_value double, is_published boolean);
insert into benefits_realisation
select benefit_id, month, title, service_id, category, measure, unit, baseline_month, baseline_value, target_month,
    target_value, planned_value, actual_value, variance, share_of_target_realised, rag_status, forecast_value, true
from read_parquet('${published_dir}/benefits_realisation.parquet');
select * from benefits_realisation
union all by name
select false as is_published where not exists (select 1 from benefits_realisation)
