-- Every quarantined row; when nothing was quarantined, one placeholder row with is_row false (Evidence cannot load
-- an empty result).
create table quarantine as select *, true as is_row from read_parquet('${published_dir}/quarantine.parquet');
select * from quarantine
union all by name
select false as is_row where not exists (select 1 from quarantine)
