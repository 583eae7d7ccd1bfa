-- User satisfaction per service, month and channel, with a per-row format that prints why a figure from too few
-- responses is withheld ("fewer than 30 responses", from suppression_note) instead of a number;
-- the note is empty, not missing, when there is none.
select * replace (coalesce(suppression_note, '') as suppression_note),
    coalesce('"' || replace(suppression_note, 'suppressed: ', '') || '"', '#,##0.0%') as satisfaction_fmt
from read_parquet('${published_dir}/kpi_user_satisfaction.parquet')
