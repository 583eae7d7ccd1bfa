-- Published by the sources work; until then one row with is_published false (the failed insert is ignored; Evidence
-- cannot load an empty result), so the data-quality page says it has no status yet instead of failing.
-- first_received is text (UTC): an empty timestamp would show as 1970 in the browser. period_name: the period the
-- return covers (March 2025, Q4 2017-18 (Jan-Mar 2018), 2017-18).
create table submission_status (agency_id varchar, agency_name varchar, month date, period_name varchar,
    due_date date, first_received varchar, status varchar, is_published boolean);
insert into submission_status
select agency_id, agency_name, month, period_name, due_date,
    strftime(timezone('UTC', first_received_at), '%Y-%m-%d %H:%M'), status, true
from read_parquet('${published_dir}/submission_status.parquet');
select * from submission_status
union all by name
select false as is_published where not exists (select 1 from submission_status)
