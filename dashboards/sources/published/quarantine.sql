-- Every quarantined row; when nothing was quarantined, one placeholder row with is_row false (Evidence cannot load
-- an empty result). The period is named here, where month is a date: when every row is a central file's (month
-- empty), Evidence stores the column as a number, which strftime cannot read.
create table quarantine as
select
    *,
    true as is_row,
    coalesce(strftime(month, '%B %Y'), 'reference files') as period
from read_parquet('${published_dir}/quarantine.parquet');
select * from quarantine
union all by name
select false as is_row where not exists (select 1 from quarantine)
