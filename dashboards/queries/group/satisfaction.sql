-- One KPI of the group's roll-ups, newest month first: a tile's figure and its sparkline.
select * from ${rollup} where kpi = 'user_satisfaction' order by month desc
