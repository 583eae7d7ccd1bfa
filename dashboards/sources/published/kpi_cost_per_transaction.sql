select * from read_parquet('${published_dir}/kpi_cost_per_transaction.parquet')
