-- Cost per transaction per service, month and channel, missing_inputs as text ('' when nothing is missing).
select * replace (coalesce(missing_inputs, '') as missing_inputs)
from read_parquet('${published_dir}/kpi_cost_per_transaction.parquet')
