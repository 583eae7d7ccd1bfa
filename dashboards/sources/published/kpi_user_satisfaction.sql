select * from read_parquet('${published_dir}/kpi_user_satisfaction.parquet')
