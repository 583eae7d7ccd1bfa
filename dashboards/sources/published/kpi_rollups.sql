select * from read_parquet('${published_dir}/kpi_rollups.parquet')
