-- One KPI of the group's roll-ups, newest month first: a tile's figure and its sparkline, the change rounded to the
-- one decimal the tile shows, so that its colour follows the figure shown (a change shown as 0.0 is neutral).
select * replace (round(change_vs_previous_month, 1) as change_vs_previous_month)
from ${rollup} where kpi = 'user_satisfaction' order by month desc
