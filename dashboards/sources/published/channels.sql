-- Each channel's name in words, as the data package's channel field lists them (its categories, from CHANNEL_NAMES
-- in transforms/domain.py): the pages join it to the KPI tables, so a name is written in one place.
select distinct category.value as channel, category.label as channel_name
from (select unnest(field.categories) as category
      from (select unnest(resource.schema.fields) as field
            from (select unnest(resources) as resource
                  from read_json('${published_dir}/datapackage.json', maximum_object_size = 67108864)))
      where field.name = 'channel')
order by channel
