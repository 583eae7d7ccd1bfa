-- One KPI of the group's roll-ups, newest month first: a tile's figure and its sparkline.
select * from ${rollup} where kpi = 'completion_rate' order by month desc
