-- The group's roll-ups by month (the government's, a department's or an agency's), every KPI, newest month first.
select * from published.kpi_rollups
where level = ${sqlText(groupOf(params).level)} and group_id = ${sqlText(groupOf(params).id)}
order by month desc, kpi_order
