-- One KPI of the group's roll-ups, newest month first: a tile's figure and its sparkline.
select * from ${rollup} where kpi = 'cost_per_transaction' order by month desc
