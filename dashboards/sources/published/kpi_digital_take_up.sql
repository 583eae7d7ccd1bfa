select * from read_parquet('${published_dir}/kpi_digital_take_up.parquet')
