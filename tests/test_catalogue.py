"""The table catalogue is the one place a table's facts live: the graph, the checks, publishing and the data package
follow it, and every dependency declared equals what the SQL reads."""

import subprocess
import sys

import dagster as dg

from expectations.suites import BLOCKING, _domain_rules
from pipelines.definitions import defs
from pipelines.defs.publishing.open_data import PUBLISHED
from pipelines.lib.partitions import MONTHLY_ASSET_NOTE
from tests.operations import PROCESS_SECONDS, REPO
from transforms import SQL_DIR
from transforms.catalogue import (CATALOGUE, COLUMNS, STAGES, TABLES, Table, published, reads,
                                  reads_from_later_stages, tables_read, unit, unit_in_name, upstream, writers)

# SQL files that are not a table of their own: helpers bound by the assets that use them.
HELPER_SQL = {"schema", "formulas", "archive_purges", "superseded_archive_copies", "check_month_on_month",
              "extract_rows", "extract_ids_ascending", "extract_duplicates", "extract_aggregates", "extract_violations",
              "check_reported_figures", "check_failure_sources", "check_services_in_catalogue",
              "check_accounting"}


def test_every_sql_file_is_a_catalogue_table_or_a_named_helper():
    assert {p.stem for p in SQL_DIR.glob("*.sql")} - set(CATALOGUE) == HELPER_SQL
    built_by_sql = {t.name for t in TABLES if t.build in ("sql", "months")}
    assert built_by_sql <= {p.stem for p in SQL_DIR.glob("*.sql")}


def test_each_sql_built_asset_depends_on_exactly_the_tables_its_sql_reads():
    graph = defs.resolve_asset_graph()
    for table in TABLES:
        if table.build not in ("sql", "months"):
            continue
        declared = {k.to_user_string() for k in graph.get(dg.AssetKey(table.name)).parent_keys}
        read = set(tables_read(table.name))
        sides = {name for name in read if CATALOGUE[name].build == "side"}
        assert declared == read | {w for side in sides for w in writers(side)}, table.name


def test_tables_read_follows_the_sql_not_its_ctes_and_maps_views():
    assert tables_read("kpi_by_period") == ("fct_service_month", "fct_service_month_channel", "stg_agencies",
                                            "stg_costs", "stg_satisfaction", "stg_service_catalogue",
                                            "stg_transactions", "submission_status")
    assert tables_read("submission_status") == ("raw_submissions", "stg_agencies")
    assert tables_read("kpi_rollups_all_grains") == (
        "kpi_by_period", "kpi_completion_rate", "kpi_cost_per_transaction", "kpi_digital_take_up",
        "kpi_user_satisfaction", "stg_agencies", "stg_service_catalogue", "stg_service_facts", "stg_transactions")
    assert tables_read("kpi_rollups") == tables_read("kpi_rollups_by_period") == ("kpi_rollups_all_grains",)


def test_no_table_reads_a_table_of_a_later_stage():
    """Data layers, as import-linter holds the code's: raw < staging < quality < facts < kpis < benefits."""
    assert {t.stage for t in TABLES} == set(STAGES)
    assert {t.name: reads_from_later_stages(t) for t in TABLES if reads_from_later_stages(t)} == {}
    # what no entry describes is read only from ingestion, the first stage
    assert {name for t in TABLES for name in reads(t) if name not in CATALOGUE} == {
        "raw_agency_returns", "raw_api_returns", "raw_performance_records", "raw_reference_files"}
    # the rule bites: a staging table that read a KPI roll-up, or a fact that read a benefit, is named
    planted = [Table("stg_planted", "staging", "reads a roll-up", build="code", reads=("stg_agencies", "kpi_rollups")),
               Table("fct_planted", "facts", "reads a benefit", build="code",
                     reads=("benefits_register", "submission_status", "raw_submissions"))]
    assert [reads_from_later_stages(t) for t in planted] == [["kpi_rollups"], ["benefits_register"]]


# Steps that are not tables and that a table's asset waits for: the Spark job, outside the warehouse pool, whose
# outputs stg_extract_transactions loads.
STEPS_BEFORE = {"stg_extract_transactions": {"stg_extract_spark_outputs"}}


def test_every_asset_of_a_catalogue_table_has_its_description_and_upstream():
    graph = defs.resolve_asset_graph()
    for table in TABLES:
        node = graph.get(dg.AssetKey(table.name))
        # a monthly table's description goes on to say why a month can show as missing (test_definitions)
        assert node.description.removesuffix(f"\n\n{MONTHLY_ASSET_NOTE}") == table.description, table.name
        assert {k.to_user_string() for k in node.parent_keys} == \
            set(upstream(table)) | STEPS_BEFORE.get(table.name, set()), table.name


def test_blocking_suites_and_checks_are_the_catalogue_s():
    graph = defs.resolve_asset_graph()
    assert {t.name for t in TABLES if t.suite} == set(BLOCKING)
    assert set(_domain_rules()) <= set(BLOCKING)  # no domain rules for a table that has no suite
    assert {k.asset_key.to_user_string() for k in graph.asset_check_keys if k.name == "valid"} == set(BLOCKING)


def test_each_suite_opens_with_the_schema_and_key_expectations_of_its_catalogue_entry():
    from expectations.suites import expectations

    def made(table: str) -> list:
        return [(e["type"], e["kwargs"]) for e in expectations(table)]

    assert made("kpi_digital_take_up")[:4] == [
        ("expect_table_columns_to_match_set", {
            "column_set": ["service_id", "month", "transactions_completed", "digital_transactions_completed",
                           "assisted_digital_transactions_completed", "digital_take_up_rate", "baseline_month",
                           "take_up_change_pp"], "exact_match": False}),
        ("expect_compound_columns_to_be_unique", {"column_list": ["service_id", "month"]}),
        ("expect_column_values_to_not_be_null", {"column": "service_id"}),
        ("expect_column_values_to_not_be_null", {"column": "month"})]
    for name in BLOCKING:
        table = CATALOGUE[name]
        schema, unique, *present = made(name)[:2 + len(table.key)]
        assert schema[1]["column_set"] == [*table.key, *table.columns], name
        assert unique[1] in ({"column_list": list(table.key)}, {"column": table.key[0]}), name
        assert present == [("expect_column_values_to_not_be_null", {"column": c}) for c in table.key], name
        # the domain rules that follow restate neither the key nor the columns
        rules = made(name)[2 + len(table.key):]
        restated = ("expect_table_columns_to_match_set", "expect_column_values_to_be_unique",
                    "expect_compound_columns_to_be_unique")
        assert not [r for r in rules if r[0] in restated], name


def test_a_column_s_unit_is_written_once_in_its_name_or_in_columns_yaml():
    assert {name: column.unit for name, column in COLUMNS.items() if column.unit and unit_in_name(name)} == {}
    assert [unit(c) for c in ("cost_per_transaction_gbp", "take_up_change_pp", "satisfaction_score", "responses",
                              "month", "service_id", "not_a_column_seconds")] == [
        "GBP", "percentage points", "0..1", "responses", "month", None, "seconds"]
    assert COLUMNS["category"].description == (
        "The kind of service (licence, registration, benefit, tax ...); costs compare fairly only within a kind.")


def test_publishing_order_and_names_follow_the_catalogue():
    assert list(PUBLISHED) == [t.publish_as for t in published()]
    assert PUBLISHED["service_catalogue"] == ("stg_service_catalogue", "service_id")
    assert PUBLISHED["kpi_rollups"] == ("kpi_rollups", "level, group_id, month, kpi_order")


def test_the_code_location_imports_no_great_expectations_pandas_or_chart_libraries():
    probe = ("import sys, pipelines.definitions; "
             "print(sorted(m for m in ('great_expectations', 'pandas', 'matplotlib', 'typst') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                          timeout=PROCESS_SECONDS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_suites_import_under_a_fileless_main_which_pyspark_would_end():
    """`python -c` has a __main__ with no file, which pyspark (imported by Great Expectations) takes for a doctest run:
    it ends the process, status 0, so the last line would be missing."""
    probe = ("import sys, expectations.runner; "
             "print('imported', 'pyspark' in sys.modules, expectations.runner.gx.__name__)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                          timeout=PROCESS_SECONDS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "imported True great_expectations"
