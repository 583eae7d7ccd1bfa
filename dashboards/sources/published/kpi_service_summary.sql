select * from read_parquet('${published_dir}/kpi_service_summary.parquet')
