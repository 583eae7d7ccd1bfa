-- Cost per transaction per service, month and channel, with the channel's name in words.
select * replace (coalesce(missing_inputs, '') as missing_inputs),
    case channel
        when 'all' then 'All channels' when 'online' then 'Online' when 'phone' then 'Phone'
        when 'face_to_face' then 'Face to face' when 'paper' then 'Paper'
        when 'assisted_digital' then 'Assisted digital' else 'Other'
    end as channel_name
from read_parquet('${published_dir}/kpi_cost_per_transaction.parquet')
