"""A monthly return's own cost per transaction (overall and digital) and completion rate are published as reported
values beside the computed ones, marked by a basis column, used where the computed figure cannot be formed, and
compared with it where both exist (the warning check's query)."""

import datetime as dt
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from pipelines.lib.tables import build_months, build_table
from pipelines.lib.warehouse import bootstrap
from transforms import sql
from transforms.catalogue import CATALOGUE
from transforms.layouts import series_records
from transforms.mappings import ReturnLayout, Series
from transforms.staging import normalise, validate

# March's return: channels, costs and the publisher's figures; April's: only the publisher's figures.
RETURNS = {"2025-03-01": {"Service": ["S1"], "Mar 2025 Online": ["300"], "Mar 2025 Phone": ["100"],
                          "Mar 2025 CPT": ["2.50"], "Mar 2025 Digital CPT": ["2.00"], "Mar 2025 Completion": ["0.9"]},
           "2025-04-01": {"Service": ["S1"], "Apr 2025 CPT": ["2.75"], "Apr 2025 Completion": ["0.8"]}}
LAYOUT = ReturnLayout(file="t.csv", rename={"Service": "service_id"},
                      headers=[{"pattern": "{period} {measure}", "measures": {
                          "Online": "online", "Phone": "phone", "CPT": "cost_per_transaction_gbp",
                          "Digital CPT": "digital_cost_per_transaction_gbp", "Completion": "completion_rate"}}])


@pytest.fixture(scope="module")
def warehouse():
    catalogue = pl.DataFrame({"service_id": ["S1"], "agency_id": ["a"], "channels_offered": [["online", "phone"]]})
    con = duckdb.connect()
    bootstrap(con)
    con.execute("INSERT INTO stg_service_catalogue VALUES ('S1', 'One', 'a', 'Dept', NULL, NULL, "
                "['online', 'phone'], NULL, NULL)")
    for month, cells in RETURNS.items():
        frame = pl.DataFrame({**cells, "_source_file": [month], "_row_number": [1]})
        accepted, failed = validate(normalise(frame, LAYOUT, "transactions"), "transactions", "a", month, catalogue)
        assert failed.height == 0
        con.register("accepted", accepted.with_columns(pl.lit("a").alias("agency_id")).rename(
            {"_source_file": "source_file", "_row_number": "source_row"}))
        con.execute("INSERT INTO stg_transactions BY NAME SELECT * FROM accepted")
    con.execute("INSERT INTO stg_costs VALUES (DATE '2025-03-01', DATE '2025-03-31', 'month', 'S1', "
                "DATE '2025-03-01', 'staff', 'shared', 1200, 'a', 'c', 1)")
    for table in ("fct_service_month_channel", "fct_service_month"):
        build_months(con, CATALOGUE[table], dt.date(2025, 3, 1), dt.date(2025, 5, 1))
    for table in ("kpi_cost_per_transaction", "kpi_completion_rate"):
        build_table(con, CATALOGUE[table])
    return con


def test_reported_cost_per_transaction_beside_the_computed_one(warehouse):
    # March: 1,200 / 400 = 3.00 overall; online 1,200 x 300/400 / 300 = 3.00. April: no costs or volumes.
    assert warehouse.execute(
        "SELECT month, channel, cost_per_transaction_gbp, reported_cost_per_transaction_gbp, "
        "cost_per_transaction_basis FROM kpi_cost_per_transaction ORDER BY month, channel").fetchall() == [
        (dt.date(2025, 3, 1), "all", 3.0, 2.5, "computed"),
        (dt.date(2025, 3, 1), "online", 3.0, 2.0, "computed"),
        (dt.date(2025, 3, 1), "phone", 3.0, None, "computed"),
        (dt.date(2025, 4, 1), "all", None, 2.75, "reported"),
        # April is a month of a monthly reporter: its channels are due, and not provided
        (dt.date(2025, 4, 1), "online", None, None, None),
        (dt.date(2025, 4, 1), "phone", None, None, None)]


def test_reported_completion_rate_is_used_where_none_can_be_computed(warehouse):
    # no transactions started were sent, so completed / started cannot be formed in either month
    assert warehouse.execute(
        "SELECT month, completion_rate, reported_completion_rate, completion_rate_basis FROM kpi_completion_rate "
        "WHERE channel = 'all' ORDER BY month").fetchall() == [
        (dt.date(2025, 3, 1), None, 0.9, "reported"), (dt.date(2025, 4, 1), None, 0.8, "reported")]


def test_reported_and_computed_months_are_compared(warehouse):
    build_table(warehouse, CATALOGUE["submission_status"])
    build_table(warehouse, CATALOGUE["kpi_by_period"])
    assert warehouse.execute(sql("check_reported_figures")).fetchall() == [
        ("S1", "month", dt.date(2025, 3, 1), "cost_per_transaction_gbp", 2.5, 3.0),
        ("S1", "month", dt.date(2025, 3, 1), "digital_cost_per_transaction_gbp", 2.0, 3.0)]


def test_a_document_of_series_is_one_record_per_period():
    document = {"name": "Svc", "datasets": [
        {"id": "cost", "data": [{"label": "2016-07", "value": None}, {"label": "2016-08", "value": 29.44}]},
        {"id": "rate", "data": [{"label": "2016-08", "value": 73.39}, {"label": "2016-09", "value": 100}]}]}
    series = Series(keep=["name"], percent=["rate"])  # the other keys as the defaults name them
    assert series_records(document, series) == [
        {"label": "2016-07", "name": "Svc", "cost": None},
        {"label": "2016-08", "name": "Svc", "cost": 29.44, "rate": Decimal("0.7339")},
        {"label": "2016-09", "name": "Svc", "rate": Decimal("1")}]
    with pytest.raises(ValueError, match="no list of points under 'data'"):
        series_records({"datasets": [{"id": "cost", "data": "none"}]}, series)
