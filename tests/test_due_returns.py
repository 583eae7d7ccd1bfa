"""A return due by an agency's cadence that never came is a row of kpi_by_period, all NULL and saying so; no row
is invented before a service's first return, before it existed, after the last return due, or for the months of
an agency that reports by quarter or year."""

import datetime as dt
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.defs.publishing.summary_content import late_returns
from pipelines.defs.staging.agencies import stg_agencies
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.tables import build_months, build_table
from transforms.catalogue import CATALOGUE

ROOT = Path(__file__).parents[1]
REGISTRY = """first_month: 2016-01
agencies:
  - {id: annual, name: Annual Agency, department: Dept, connector: file_drop, format: csv, mapping: canonical,
     cadence: [financial_year], first_month: 2016-04, return_due_day: 15, credential_env: null}
  - {id: quarterly, name: Quarterly Agency, department: Dept, connector: file_drop, format: csv,
     mapping: canonical, cadence: [quarterly], first_month: 2018-01, return_due_day: 15, credential_env: null}
"""
FIGURES = ("transactions_started", "transactions_completed", "digital_transactions_completed", "cost_gbp",
           "cost_per_transaction_gbp", "digital_take_up_rate", "completion_rate", "responses", "satisfaction_score",
           "reported_transactions_completed", "reported_cost_per_transaction_gbp", "reported_completion_rate")


@contextmanager
def staged(root: Path, registry: str, services: list[tuple], sent: list[tuple]):
    """A warehouse with the registry staged by its own asset, the services in the catalogue and the returns `sent`
    (agency, service, return month, period start, period end, grain), each received on 10 April 2019, and
    submission_status and kpi_by_period built from them."""
    config = root / "config"
    (config / "mappings").mkdir(parents=True)
    (config / "sources.yaml").write_text(registry)
    for name in ("housekeeping.yaml", "open_data.yaml", "mappings/canonical.yaml"):
        shutil.copy(ROOT / "config" / name, config / name)
    store = DataStore(data_dir=str(root / "data"))
    stg_agencies(store=store, settings=Settings(config_dir=str(config)))
    with store.connect() as con:
        con.executemany("INSERT INTO stg_service_catalogue VALUES (?, ?, ?, 'Dept', NULL, NULL, ['online'], NULL, ?)",
                        services)
        for agency, month in {(a, m) for a, _, m, *_ in sent}:
            path = f"{agency}/{month[:7]}/transactions.csv"
            con.execute("INSERT INTO raw_submissions VALUES (?, ?, 1, TIMESTAMPTZ '2019-04-10 09:00:00+00', "
                        "TIMESTAMPTZ '2019-04-10 09:00:00+00', 'file_drop', ?, ?, ?)",
                        [path, path, agency, month, path])
        con.executemany("INSERT INTO stg_transactions (period_start, period_end, grain, service_id, month, channel, "
                        "transactions_completed, agency_id, source_file, source_row) VALUES (?, ?, ?, ?, ?, 'online', "
                        "100, ?, 'f', 1)", [(s, e, g, service, m, a) for a, service, m, s, e, g in sent])
        for table in ("fct_service_month_channel", "fct_service_month"):
            build_months(con, CATALOGUE[table], dt.date(2016, 1, 1), dt.date(2019, 4, 1))
        for table in ("submission_status", "kpi_by_period"):
            build_table(con, CATALOGUE[table])
        yield con


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The registry above; returns received for FY 2016-17 and 2018-19 (annual, nothing for 2017-18) and for the
    quarters to June and December 2018 (quarterly, nothing for September)."""
    with staged(tmp_path_factory.mktemp("due"), REGISTRY, [
        ("A1", "One", "annual", None), ("A2", "Two", "annual", dt.date(2018, 4, 1)),
        ("A3", "Never sent", "annual", None), ("Q1", "Quarterly", "quarterly", None)], [
        ("annual", "A1", "2017-03-01", "2016-04-01", "2017-03-31", "financial_year"),
        ("annual", "A1", "2019-03-01", "2018-04-01", "2019-03-31", "financial_year"),
        ("annual", "A2", "2019-03-01", "2018-04-01", "2019-03-31", "financial_year"),
        ("quarterly", "Q1", "2018-06-01", "2018-04-01", "2018-06-30", "quarter"),
        ("quarterly", "Q1", "2018-12-01", "2018-10-01", "2018-12-31", "quarter")]) as con:
        yield con


def test_a_year_due_and_not_received_is_a_row_for_each_service_all_null(warehouse):
    rows = warehouse.execute(f"SELECT service_id, grain, period_start, period_end, channel, {', '.join(FIGURES)}, "
                             "missing_inputs FROM kpi_by_period WHERE source = 'not_received' "
                             "ORDER BY service_id").fetchall()
    nothing = (None,) * len(FIGURES)
    # A2 began in April 2018 (after the year not received), A3 never sent a return: no row for either
    assert rows == [
        ("A1", "financial_year", dt.date(2017, 4, 1), dt.date(2018, 3, 31), "all", *nothing,
         "not received: the return due by 2018-04-15"),
        # the quarter to March 2018 is before Q1's first return; the quarter to March 2019 is not due yet
        ("Q1", "quarter", dt.date(2018, 7, 1), dt.date(2018, 9, 30), "all", *nothing,
         "not received: the return due by 2018-10-15")]


def test_the_years_and_quarters_received_stay_as_sent(warehouse):
    assert warehouse.execute("SELECT service_id, grain, period_start, transactions_completed FROM kpi_by_period "
                             "WHERE source = 'submitted' AND channel = 'all' ORDER BY ALL").fetchall() == [
        ("A1", "financial_year", dt.date(2016, 4, 1), 100), ("A1", "financial_year", dt.date(2018, 4, 1), 100),
        ("A2", "financial_year", dt.date(2018, 4, 1), 100),
        ("Q1", "quarter", dt.date(2018, 4, 1), 100), ("Q1", "quarter", dt.date(2018, 10, 1), 100)]
    # no months, and nothing but what was sent or was due
    assert warehouse.execute("SELECT DISTINCT source FROM kpi_by_period ORDER BY 1").fetchall() == [
        ("not_received",), ("submitted",)]
    assert warehouse.execute("SELECT count(*) FROM kpi_by_period WHERE grain = 'month'").fetchone() == (0,)


def test_submission_status_names_each_return_by_its_period(warehouse):
    assert warehouse.execute("SELECT agency_id, month, period_name, status FROM submission_status "
                             "ORDER BY agency_id, month").fetchall() == [
        # every return was received on 10 April 2019: only the year to March 2019 was on time
        ("annual", dt.date(2017, 3, 1), "2016-17", "late"),
        ("annual", dt.date(2018, 3, 1), "2017-18", "missing"),
        ("annual", dt.date(2019, 3, 1), "2018-19", "received"),
        ("quarterly", dt.date(2018, 3, 1), "Q4 2017-18 (Jan-Mar 2018)", "missing"),
        ("quarterly", dt.date(2018, 6, 1), "Q1 2018-19 (Apr-Jun 2018)", "late"),
        ("quarterly", dt.date(2018, 9, 1), "Q2 2018-19 (Jul-Sep 2018)", "missing"),
        ("quarterly", dt.date(2018, 12, 1), "Q3 2018-19 (Oct-Dec 2018)", "late"),
        ("quarterly", dt.date(2019, 3, 1), "Q4 2018-19 (Jan-Mar 2019)", "not_yet_due")]


def test_the_ministers_summary_names_a_missing_return_by_its_period():
    rows = [{"agency_name": "Annual Agency", "month": dt.date(2018, 3, 1), "period_name": "2017-18",
             "status": "missing", "due_date": dt.date(2018, 4, 15), "first_received_at": None},
            {"agency_name": "Monthly Agency", "month": dt.date(2018, 3, 1), "period_name": "March 2018",
             "status": "late", "due_date": dt.date(2018, 4, 10), "first_received_at": dt.datetime(2018, 4, 12, 9)}]
    assert late_returns({"rows": rows, "latest_received": None}) == [
        "Annual Agency: the return for 2017-18 is missing (due 15 April 2018).",
        "Monthly Agency: the return for March 2018 arrived late, on 12 April 2018 (due 10 April 2018)."]


def test_a_year_to_june_sent_once_a_year_is_due_each_june_only(tmp_path):
    registry = """first_month: 2016-01
agencies:
  - {id: june, name: June Agency, department: Dept, connector: file_drop, format: csv, mapping: canonical,
     cadence: [yearly], year_end_month: 6, first_month: 2016-07, return_due_day: 15, credential_env: null}
"""
    with staged(tmp_path, registry, [("J1", "Years to June", "june", None)], [
            ("june", "J1", "2017-06-01", "2016-07-01", "2017-06-30", "rolling_12_months"),
            ("june", "J1", "2019-06-01", "2018-07-01", "2019-06-30", "rolling_12_months")]) as con:
        # every return was received on 10 April 2019: the year to June 2018 never came
        assert con.execute("SELECT month, period_name, status FROM submission_status ORDER BY month").fetchall() == [
            (dt.date(2017, 6, 1), "12 months to Jun 2017", "late"),
            (dt.date(2018, 6, 1), "12 months to Jun 2018", "missing"),
            (dt.date(2019, 6, 1), "12 months to Jun 2019", "received")]
        assert con.execute("SELECT service_id, grain, period_start, period_end, missing_inputs FROM kpi_by_period "
                           "WHERE source = 'not_received'").fetchall() == [
            ("J1", "rolling_12_months", dt.date(2017, 7, 1), dt.date(2018, 6, 30),
             "not received: the return due by 2018-07-15")]


def test_a_yearly_cadence_needs_the_month_its_year_ends():
    from pydantic import ValidationError

    from pipelines.lib.config.sources import Agency
    entry = {"id": "june", "name": "June", "department": "Dept", "connector": "file_drop", "format": "csv",
             "mapping": "canonical", "return_due_day": 15}
    problem = [(("year_end_month",), "a yearly cadence needs the month its year ends (year_end_month: 6 for years to "
                                     "June), and only a yearly cadence has one")]
    for wrong in ({"cadence": ["yearly"]}, {"year_end_month": 6}):
        with pytest.raises(ValidationError) as raised:
            Agency.model_validate({**entry, **wrong})
        assert raised.value.errors()[0]["ctx"]["problems"] == problem
    assert Agency.model_validate({**entry, "cadence": ["yearly"], "year_end_month": 6}).year_end_month == 6
