-- The ministers' summaries (PDF and HTML) the pipeline published, one row a summary, with its period's name (as the
-- tables name it) from reports/manifest.json: the open-data page lists them by period, newest first, and
-- scripts/open-data.mjs copies the files beside the site.
with manifest as (
    select content::json -> 'summaries' as summaries
    from read_text('${published_dir}/reports/manifest.json')
),

stems as (
    select unnest(json_keys(summaries)) as stem, summaries from manifest
)

select
    stem,
    summaries -> stem ->> 'kind' as kind,
    cast(summaries -> stem ->> 'period_start' as date) as period_start,
    summaries -> stem ->> 'period_name' as period_name,
    '/open-data/reports/' || stem || '.pdf' as pdf,
    '/open-data/reports/' || stem || '.html' as html
from stems
order by period_start desc, kind desc
