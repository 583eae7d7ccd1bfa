-- The data package's tables: names, descriptions and each table's definition as worded at the top of its SQL file
-- (the About page quotes these), for the download links too (scripts/open-data.mjs copies the CSV and Parquet files
-- beside the site), with each table's number of rows (from its Parquet file's footer): an empty table is said to be.
with files as (
    select resource.name, resource.title, resource.description, resource.definition, resource.path, resource.parquet,
        resource.bytes
    from (select unnest(resources) as resource
          from read_json('${published_dir}/datapackage.json', maximum_object_size = 67108864))
),

counts as (
    select parse_filename(file_name) as parquet, num_rows as row_count
    from parquet_file_metadata('${published_dir}/*.parquet')
)

select files.*, coalesce(counts.row_count, 0) as row_count
from files left join counts using (parquet)
order by files.name
