-- The KPIs a source's rows could not form for most of its services (transforms/sql/kpis_not_formed.sql); when there
-- are none, one placeholder row with is_row false (Evidence cannot load an empty result).
create table kpis_not_formed as select *, true as is_row from read_parquet('${published_dir}/kpis_not_formed.parquet');
select * from kpis_not_formed
union all by name
select false as is_row where not exists (select 1 from kpis_not_formed)
