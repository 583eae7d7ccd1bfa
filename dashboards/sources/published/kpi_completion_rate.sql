-- Completion rate per service, month and channel (the channel's name in words is in the channels source).
select * from read_parquet('${published_dir}/kpi_completion_rate.parquet')
