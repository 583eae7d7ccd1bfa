-- The group's take-up change since each service's baseline, newest month first.
select * from ${rollup} where kpi = 'take_up_change_since_baseline' order by month desc
