-- Published by the benefits work; until then one row with is_published false (the failed insert is ignored; Evidence
-- cannot load an empty result), so the benefits page says the tables are not published yet instead of failing.
-- Beside the figures, what the pages show for people: the measure and category in words, the status capitalised,
-- and per-row formats as the ministers' summary writes them (shares as percent, unit costs in pounds and pence,
-- money to date in £ million; a variance of a share in percentage points).
create table benefits_realisation (benefit_id varchar, month date, title varchar, service_id varchar,
    category varchar, measure varchar, unit varchar, owner varchar, baseline_month date, baseline_value double,
    target_month date, target_value double, planned_value double, actual_value double, variance double,
    share_of_target_realised double, rag_status varchar, forecast_value double, is_published boolean);
insert into benefits_realisation
select benefit_id, month, title, service_id, category, measure, unit, owner, baseline_month, baseline_value,
    target_month, target_value, planned_value, actual_value, variance, share_of_target_realised, rag_status,
    forecast_value, true
from read_parquet('${published_dir}/benefits_realisation.parquet');
select * replace (
        case when measure like '%_rate' or measure in ('satisfaction_score', 'satisfied_share') then variance * 100
            else variance end as variance),
    case measure
        when 'digital_take_up_rate' then 'Digital take-up'
        when 'cost_per_transaction_gbp' then 'Cost per transaction'
        when 'channel_shift_saving_gbp' then 'Channel-shift saving to date'
        when 'completion_rate' then 'Completion rate'
        when 'satisfaction_score' then 'Satisfaction score'
        when 'satisfied_share' then 'Share satisfied'
    end as measure_name,
    case category when 'cashable' then 'Cashable' when 'non-cashable' then 'Non-cashable' else 'Dis-benefit' end
        as category_name,
    case rag_status when 'no data' then 'No data' else upper(rag_status[1]) || rag_status[2:] end as status,
    case
        when measure = 'cost_per_transaction_gbp' then '"£"#,##0.00'
        when measure = 'channel_shift_saving_gbp' then '"£"#,##0.00,,"m"'
        else '#,##0.0%'
    end as value_fmt,
    case
        when measure = 'cost_per_transaction_gbp' then '+"£"#,##0.00;-"£"#,##0.00;"£"0.00'
        when measure = 'channel_shift_saving_gbp' then '+"£"#,##0.00,,"m";-"£"#,##0.00,,"m";"£"0.00"m"'
        else '+0.0" pp";-0.0" pp";0.0" pp"'
    end as variance_fmt,
    '/benefits/' || url_encode(benefit_id) as benefit_link  -- the identifier percent-encoded as one path segment
from benefits_realisation
union all by name
select false as is_published where not exists (select 1 from benefits_realisation)
