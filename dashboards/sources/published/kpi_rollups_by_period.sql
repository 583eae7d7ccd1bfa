-- The roll-ups by quarter, financial year and 12-month span, one row per group and period, each KPI its own column
-- (the publishers' own cost per transaction beside the one computed here), the period named as people name it:
-- what a department, an agency or the government shows when its services report by period. A withheld satisfaction
-- figure's format says why ("fewer than 30 responses", from suppression_note), never a number.
select level, group_id, group_name, grain, period_start, period_end, period_name,
    max(value) filter (where kpi = 'cost_per_transaction') as cost_per_transaction_gbp,
    max(value) filter (where kpi = 'reported_cost_per_transaction') as reported_cost_per_transaction_gbp,
    max(value) filter (where kpi = 'digital_take_up') as digital_take_up_rate,
    max(value) filter (where kpi = 'completion_rate') as completion_rate,
    max(value) filter (where kpi = 'user_satisfaction') as satisfaction_score,
    coalesce(max('"' || replace(suppression_note, 'suppressed: ', '') || '"')
                 filter (where kpi = 'user_satisfaction' and starts_with(suppression_note, 'suppressed: ')),
             '#,##0.0%') as satisfaction_fmt,
    max(services_reporting) as services_reporting,
    max(services_expected) as services_expected
from read_parquet('${published_dir}/kpi_rollups_by_period.parquet')
group by all
