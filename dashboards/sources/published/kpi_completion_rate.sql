select * from read_parquet('${published_dir}/kpi_completion_rate.parquet')
