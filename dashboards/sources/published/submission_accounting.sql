select * from read_parquet('${published_dir}/submission_accounting.parquet')
