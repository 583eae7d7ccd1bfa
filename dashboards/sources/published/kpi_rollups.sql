-- The roll-ups, with what the pages show beside each figure: the KPI's name in words and, per row, the format of
-- its value and of its change (money in pounds and pence, shares as percent, changes with their unit), so a table
-- mixing KPIs still reads as people write numbers. A withheld satisfaction figure's format says why ("fewer than 30
-- responses", from suppression_note); when only its change is withheld, the figure itself is shown.
select *,
    case kpi
        when 'cost_per_transaction' then 'Cost per transaction'
        when 'digital_take_up' then 'Digital take-up'
        when 'completion_rate' then 'Completion rate'
        when 'user_satisfaction' then 'User satisfaction'
        when 'take_up_change_since_baseline' then 'Take-up change since baseline'
        when 'shifted_transactions' then 'Transactions shifted online'
    end as kpi_name,
    case
        when starts_with(suppression_note, 'suppressed: ') then '"' || replace(suppression_note, 'suppressed: ', '') || '"'
        when unit = 'GBP' then '"£"#,##0.00'
        when unit = '0..1' then '#,##0.0%'
        when unit = 'percentage points' then '+0.0" pp";-0.0" pp";0.0" pp"'
        else '#,##0'
    end as value_fmt,
    case change_unit
        when 'percent' then '+0.0"%";-0.0"%";0.0"%"'
        when 'percentage points' then '+0.0" pp";-0.0" pp";0.0" pp"'
        else '+#,##0;-#,##0;0'
    end as change_fmt
from read_parquet('${published_dir}/kpi_rollups.parquet')
