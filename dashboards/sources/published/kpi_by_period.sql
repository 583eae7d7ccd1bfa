-- The KPIs at the grain agencies sent them (quarters, financial years, 12-month spans) and monthly figures added up
-- to quarters and financial years, each period named as people name it (period_name: Q4 2015-16 (Jan-Mar 2016), 2018-19), with its
-- grain and source in words; missing_inputs as text ('' when nothing is missing).
select * replace (coalesce(missing_inputs, '') as missing_inputs),
    case grain
        when 'quarter' then 'Quarter' when 'financial_year' then 'Financial year'
        when 'rolling_12_months' then '12 months' when 'month' then 'Month' else 'Other period'
    end as grain_name,
    case source
        when 'submitted' then 'As sent' when 'not_received' then 'Not received'
        when 'rolled_up_from_months' then 'Added up from months' else 'Added up from quarters'
    end as source_name
from read_parquet('${published_dir}/kpi_by_period.parquet')
