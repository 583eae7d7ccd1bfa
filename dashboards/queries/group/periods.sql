-- The group's roll-ups by quarter, financial year and 12-month span, newest first.
select * from published.kpi_rollups_by_period
where level = ${sqlText(groupOf(params).level)} and group_id = ${sqlText(groupOf(params).id)}
order by period_end desc, period_start
