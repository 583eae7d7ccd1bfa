-- Each service's latest month, with what the pages need to show it for people: whether it offers an online channel
-- (without one, digital take-up is not applicable: shown as such, and left out of take-up rankings; NULL when the
-- catalogue does not say which channels it offers, and then its published take-up is shown), high volume as
-- Yes or No, per-row formats that print "not applicable", or why a satisfaction figure is withheld ("fewer than
-- 30 responses", from suppression_note), instead of a number, and the links to the service's, agency's and
-- department's pages (identifiers and names are data: each percent-encoded as one path segment, so a '/', '#', '?'
-- or '%' in one is part of the page's address, never a cut in it).
select s.* replace (
        case when c.offers_online is not false then s.digital_take_up_rate end as digital_take_up_rate,
        case when c.offers_online is not false then s.digital_take_up_change_12m_pp end
            as digital_take_up_change_12m_pp,
        coalesce(s.suppression_note, '') as suppression_note),
    c.offers_online as digital_channel_offered,
    case when s.high_volume then 'Yes' else 'No' end as high_volume_label,
    case when c.offers_online is not false then '#,##0.0%' else '"not applicable"' end as take_up_fmt,
    case when c.offers_online is not false then '+0.0" pp";-0.0" pp";0.0" pp"'
        else '"not applicable"' end as take_up_change_fmt,
    coalesce('"' || replace(s.suppression_note, 'suppressed: ', '') || '"', '#,##0.0%') as satisfaction_fmt,
    '/services/' || url_encode(s.service_id) as service_link,
    '/agencies/' || url_encode(s.agency_id) as agency_link,
    '/departments/' || url_encode(s.department) as department_link
from read_parquet('${published_dir}/kpi_service_summary.parquet') s
join (
    select service_id, list_contains(channels_offered, 'online') as offers_online
    from read_parquet('${published_dir}/service_catalogue.parquet')
) c using (service_id)
