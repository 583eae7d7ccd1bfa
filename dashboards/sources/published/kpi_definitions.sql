-- Each KPI's definition as the data package words it: the description of the KPI's column in its table (from
-- transforms/columns.yaml), beside the table's own definition (from the top of its SQL file) and the KPI's name in
-- words. The tiles and the About page show these, so a definition is written in one place (and never on a page).
-- definition_lead: the description's first sentence (the formula), for the tiles.
with package as (
    select unnest(resources) as resource
    from read_json('${published_dir}/datapackage.json', maximum_object_size = 67108864)
),

fields as (
    select resource.name as table_name, resource.definition as table_definition, unnest(resource.schema.fields) as field
    from package
),

kpis as (
    select * from (values
        (1, 'cost_per_transaction', 'Cost per transaction', 'kpi_cost_per_transaction', 'cost_per_transaction_gbp'),
        (2, 'digital_take_up', 'Digital take-up', 'kpi_digital_take_up', 'digital_take_up_rate'),
        (3, 'completion_rate', 'Completion rate', 'kpi_completion_rate', 'completion_rate'),
        (4, 'user_satisfaction', 'User satisfaction', 'kpi_user_satisfaction', 'satisfaction_score')
    ) as kpis (kpi_order, kpi, kpi_name, table_name, column_name)
)

select
    kpis.kpi_order, kpis.kpi, kpis.kpi_name, kpis.table_name, kpis.column_name, fields.table_definition,
    fields.field.description as definition,
    rtrim(split_part(fields.field.description, '. ', 1), '.') || '.' as definition_lead
from kpis
join fields on fields.table_name = kpis.table_name and fields.field.name = kpis.column_name
order by kpis.kpi_order
