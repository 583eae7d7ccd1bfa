-- User satisfaction per service, month and channel, with the channel's name in words and a per-row format that
-- prints why a figure from too few responses is withheld ("fewer than 30 responses", from suppression_note) instead
-- of a number; the note is empty, not missing, when there is none.
select * replace (coalesce(suppression_note, '') as suppression_note),
    case channel
        when 'all' then 'All channels' when 'online' then 'Online' when 'phone' then 'Phone'
        when 'face_to_face' then 'Face to face' when 'paper' then 'Paper'
        when 'assisted_digital' then 'Assisted digital' else 'Other'
    end as channel_name,
    coalesce('"' || replace(suppression_note, 'suppressed: ', '') || '"', '#,##0.0%') as satisfaction_fmt
from read_parquet('${published_dir}/kpi_user_satisfaction.parquet')
