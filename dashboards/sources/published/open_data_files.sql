-- The data package's tables: names, descriptions and each table's definition as worded at the top of its SQL file
-- (the About page quotes these), for the download links too (scripts/open-data.mjs copies the CSV files beside the site).
select resource.name, resource.title, resource.description, resource.definition, resource.path, resource.bytes
from (select unnest(resources) as resource from read_json('${published_dir}/datapackage.json', maximum_object_size = 67108864))
order by resource.name
