select * replace (array_to_string(channels_offered, '; ') as channels_offered)
from read_parquet('${published_dir}/service_catalogue.parquet')
