"""Onboarding by configuration alone: a wide, messy CSV agency, an HTTP API agency, and the registry's own rules."""

import datetime as dt
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.lib.config import PROJECT_CONFIG_DIR, ConfigError, load_config
from pipelines.lib.resources import DataStore
from tests.conftest import run_graph
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.periods import parse_period
from transforms.staging import FILE, ROW, normalise

MESSY_MAPPING = {"returns": {
    "transactions": {
        "file": "volumes.csv", "delimiter": ";", "encoding": "cp1252", "thousands": ",",
        "rename": {"Service ref": "service_id", "Quarter": "month"},
        "unpivot": {"value": "transactions_completed", "total": "Total",
                    "columns": {"Online": "online", "Phone": "phone", "Post": "paper"}},
        "not_provided": ["-", "***", "ND", "#REF!", "See notes"], "not_applicable": ["N/A"]},
    "costs": {
        "file": "costs.csv", "encoding": "cp1252", "thousands": ",",
        "rename": {"Service ref": "service_id", "Quarter": "month", "Type": "cost_category", "Channel": "channel",
                   "Cost (£000s)": "cost_gbp"},
        "values": {"cost_category": {"Staff": "staff", "IT": "it", "Overheads": "overheads"},
                   "channel": {"Online": "online", "Phone": "phone", "Post": "paper", "Shared": "shared"}},
        "scale": {"cost_gbp": 1000}},
    "satisfaction": {"file": "satisfaction.csv"},
}}
HEADER = "service_id,service_name,agency_id,department,category,customer_type,channels_offered,high_volume\n"
MESSY_CATALOGUE = (HEADER + "MSY-1,Apply for a permit,messy,Environment,permit,business,online;phone;paper,false\n"
                   "MSY-2,Report a nuisance,messy,Environment,registration,citizen,online;phone,false\n")
API_CATALOGUE = HEADER + "API-1,Book a test,api,Transport,booking,citizen,online;phone,false\n"


def config_with(tmp_path: Path, *entries: dict, mappings: dict) -> Path:
    config = tmp_path / "config"
    shutil.copytree(PROJECT_CONFIG_DIR, config)
    (config / "sources.yaml").write_text(yaml.safe_dump({"agencies": list(entries)}), encoding="utf-8")
    for name, mapping in mappings.items():
        (config / "mappings" / f"{name}.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True),
                                                          encoding="utf-8")
    return config


def config_of(store: DataStore) -> Path:
    """The fixtures keep each store's configuration beside its data folder."""
    return store.root.parent / "config"


def agency(**fields) -> dict:
    return {"department": "Environment", "connector": "file_drop", "format": "csv", "return_due_day": 15,
            "credential_env": None, **fields}


def landed_messy(root: Path) -> DataStore:
    """root/config with the messy agency, and its quarter's returns landed in root/data."""
    config_with(root, agency(id="messy", name="Messy Returns Agency", mapping="messy_wide"),
                mappings={"messy_wide": MESSY_MAPPING})
    store = DataStore(data_dir=str(root / "data"))
    (store.landing / "catalogue").mkdir(parents=True)
    (store.landing / "catalogue" / "services.csv").write_text(MESSY_CATALOGUE)
    folder = store.landing / "messy" / "2025-09"
    folder.mkdir(parents=True)
    # a quarter (financial Q2 = July to September), thousands separators, markers, semicolons, cp1252
    (folder / "volumes.csv").write_bytes((
        "Service ref;Quarter;Total;Online;Phone;Post\n"
        'MSY-1;Q2 2025-26;"16,000";"12,000";"3,000";"1,000"\n'
        'MSY-2;Q2 2025-26;"7,000";"5,500";-;N/A\n').encode("cp1252"))
    (folder / "costs.csv").write_bytes((
        "Service ref,Quarter,Type,Channel,Cost (£000s)\n"
        "MSY-1,Q2 2025-26,Staff,Phone,45.5\n"
        "MSY-1,Q2 2025-26,IT,Online,30\n"
        'MSY-1,Q2 2025-26,Overheads,Shared,"24.5"\n').encode("cp1252"))
    (folder / "satisfaction.csv").write_text(
        "service_id,month,channel,rating_1,rating_2,rating_3,rating_4,rating_5\n"
        "MSY-1,Q2 2025-26,online,2,3,5,40,50\n")
    return store


@pytest.fixture
def messy(tmp_path):
    return landed_messy(tmp_path)


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    """The messy agency's quarter run once (its month, 2025-09), for the tests that only read what it made."""
    store = landed_messy(tmp_path_factory.mktemp("messy"))
    assert run_graph(store, "2025-09-01", "2025-09-01", config_dir=config_of(store)).success
    return store


def query(store, sql, params=None):
    with store.connect() as con:
        return con.execute(sql, params or []).fetchall()


def test_wide_messy_quarterly_csv_gives_kpis_at_its_own_grain(messy_run):
    assert query(messy_run, "SELECT count(*) FROM quarantine") == [(0,)]
    rows = query(messy_run, """
        SELECT service_id, period_start, period_end, transactions_completed, cost_gbp, cost_per_transaction_gbp,
            digital_take_up_rate, satisfied_share
        FROM kpi_by_period WHERE grain = 'quarter' AND source = 'submitted' AND channel = 'all' ORDER BY 1""")
    assert rows == [
        # 12,000 + 3,000 + 1,000 completed; (45.5 + 30 + 24.5) thousand GBP; 100,000 / 16,000 = 6.25; 12/16 = 0.75
        ("MSY-1", dt.date(2025, 7, 1), dt.date(2025, 9, 30), 16000, 100000.0, 6.25, 0.75, 0.9),
        # phone not provided ("-"): nothing is computed over the part that is there, so the total is the one the
        # agency reported (7,000, total_basis reported_total) and take-up = 5,500 / 7,000; paper "N/A"
        ("MSY-2", dt.date(2025, 7, 1), dt.date(2025, 9, 30), 7000, None, None, 5500 / 7000, None)]
    # never spread over months: the monthly tables have nothing for the quarter's months
    assert query(messy_run, "SELECT count(*) FROM stg_transactions WHERE grain = 'month'") == [(0,)]
    assert query(messy_run, "SELECT transactions_completed FROM fct_service_month_channel WHERE service_id = 'MSY-1' "
                            "AND channel = 'online'") == [(None,)]
    assert query(messy_run, "SELECT channel, transactions_completed FROM kpi_by_period WHERE service_id = 'MSY-2' "
                            "AND grain = 'quarter' ORDER BY channel") == [
        ("all", 7000), ("online", 5500), ("phone", None)]
    assert query(messy_run, "SELECT total_basis, missing_inputs FROM kpi_by_period WHERE grain = 'quarter' AND "
                            "channel = 'all' ORDER BY service_id") == [("channels", None), ("reported_total", None)]


def test_wide_messy_csv_rows_are_accounted_for(messy_run):
    assert query(messy_run, "SELECT return_type, rows_read, rows_accepted, rows_quarantined FROM submission_accounting "
                            "WHERE agency_id = 'messy' ORDER BY 1") == [
        ("costs", 3, 3, 0), ("satisfaction", 1, 1, 0), ("transactions", 2, 2, 0)]


@pytest.mark.parametrize("text, expected", [
    ("2024-03", (dt.date(2024, 3, 1), dt.date(2024, 3, 31), "month")),
    ("Mar 2024", (dt.date(2024, 3, 1), dt.date(2024, 3, 31), "month")),
    ("2024 Q1", (dt.date(2024, 1, 1), dt.date(2024, 3, 31), "quarter")),
    ("Q1 2024-25", (dt.date(2024, 4, 1), dt.date(2024, 6, 30), "quarter")),
    ("2016-17", (dt.date(2016, 4, 1), dt.date(2017, 3, 31), "financial_year")),
    ("April 2016 to March 2017", (dt.date(2016, 4, 1), dt.date(2017, 3, 31), "financial_year")),
    ("July 2023 to June 2024", (dt.date(2023, 7, 1), dt.date(2024, 6, 30), "rolling_12_months")),
    ("2024-13", None), ("2024-26", None), ("Spring 2024", None),
])
def test_periods_as_agencies_write_them(text, expected):
    assert parse_period(text) == expected


def test_a_short_financial_year_is_read_as_one_where_the_mapping_declares_financial_year_periods():
    """"2011-12" is December 2011, or April 2011 to March 2012: the layout's period_grain decides."""
    frame = pl.DataFrame({"service_id": ["S1"] * 3, "month": ["2011-12", "2005-06", "2011-05"],
                          "channel": ["online"] * 3, "transactions_completed": ["5"] * 3, FILE: ["t.csv"] * 3,
                          ROW: [1, 2, 3]})

    def periods(layout: ReturnLayout) -> list[tuple]:
        return normalise(frame, layout, "transactions").select("period_start", "period_end", "grain").rows()
    assert periods(AS_SENT) == [(dt.date(2011, 12, 1), dt.date(2011, 12, 31), "month"),
                           (dt.date(2005, 6, 1), dt.date(2005, 6, 30), "month"),
                           (dt.date(2011, 5, 1), dt.date(2011, 5, 31), "month")]
    assert periods(ReturnLayout(file="t.csv", period_grain="financial_year")) == [
        (dt.date(2011, 4, 1), dt.date(2012, 3, 31), "financial_year"),
        (dt.date(2005, 4, 1), dt.date(2006, 3, 31), "financial_year"),
        (dt.date(2011, 5, 1), dt.date(2011, 5, 31), "month")]  # 2011-05 names no financial year


def test_a_financial_year_figure_stays_a_financial_year(messy):
    folder = messy.landing / "messy" / "2026-03"
    folder.mkdir(parents=True)
    (folder / "volumes.csv").write_bytes(("Service ref;Quarter;Total;Online;Phone;Post\n"
                                          "MSY-1;2025-26;100;60;30;10\n").encode("cp1252"))
    assert run_graph(messy, "2026-03-01", "2026-03-01", config_dir=config_of(messy)).success
    assert query(messy, "SELECT grain, period_start, period_end, transactions_completed, digital_take_up_rate "
                        "FROM kpi_by_period WHERE source = 'submitted' AND channel = 'all'") == [
        ("financial_year", dt.date(2025, 4, 1), dt.date(2026, 3, 31), 100, 0.6)]


class Api(BaseHTTPRequestHandler):
    """An agency API: returns by month, bearer token required."""
    token = "s3cret-token"

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_response(401)
            self.end_headers()
            return
        kind = self.path.split("/")[2].split("?")[0]
        month = self.path.split("month=")[1]
        records = {
            "transactions": [{"service_id": "API-1", "month": month, "channel": "online",
                              "transactions_started": 110, "transactions_completed": 100},
                             {"service_id": "API-1", "month": month, "channel": "phone",
                              "transactions_started": None, "transactions_completed": 25}],
            "costs": [{"service_id": "API-1", "month": month, "cost_category": "staff", "channel": "shared",
                       "cost_gbp": 500}],
            "satisfaction": [],
        }[kind]
        body = json.dumps(records).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/returns/{{return}}?month={{month}}"
    config_with(tmp_path, agency(id="api", name="API Agency", connector="http", format="json", url=url,
                                 credential_env="API_AGENCY_TOKEN", mapping="api_json"),
                mappings={"api_json": {"returns": {kind: {"file": f"{kind}.json"}
                                                   for kind in ("transactions", "costs", "satisfaction")}}})
    store = DataStore(data_dir=str(tmp_path / "data"))
    (store.landing / "catalogue").mkdir(parents=True)
    (store.landing / "catalogue" / "services.csv").write_text(API_CATALOGUE)
    yield store
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_agency_is_fetched_archived_and_staged(api, monkeypatch):
    monkeypatch.setenv("API_AGENCY_TOKEN", Api.token)
    assert run_graph(api, "2025-10-01", "2025-10-01", config_dir=config_of(api)).success
    assert query(api, "SELECT source, count(*) FROM raw_submissions WHERE agency_id = 'api' GROUP BY source") == [
        ("http", 3)]
    assert query(api, "SELECT cost_gbp, transactions_completed, cost_per_transaction_gbp FROM "
                      "kpi_cost_per_transaction WHERE service_id = 'API-1' AND channel = 'all'") == [(500.0, 125, 4.0)]
    # an empty month of surveys is an empty return, not an error of the agency's
    assert query(api, "SELECT rule FROM quarantine WHERE agency_id = 'api'") == [("unreadable_file",)]


def test_http_refused_credential_is_quarantined_and_the_run_goes_on(api, monkeypatch):
    monkeypatch.setenv("API_AGENCY_TOKEN", "wrong-token")
    result = run_graph(api, "2025-10-01", "2025-10-01", config_dir=config_of(api))
    assert result.success
    rows = query(api, "SELECT return_type, rule, column_name, message FROM quarantine ORDER BY column_name")
    assert [r[:3] for r in rows] == [("api_fetch", "http_unauthorised", "costs"),
                                     ("api_fetch", "http_unauthorised", "satisfaction"),
                                     ("api_fetch", "http_unauthorised", "transactions")]
    assert all("API_AGENCY_TOKEN" in r[3] and "wrong-token" not in r[3] for r in rows)


@pytest.mark.parametrize("location", ["../outside", "/etc", "a/b"])
def test_registry_refuses_a_location_outside_the_landing_folder(tmp_path, location):
    config = config_with(tmp_path, agency(id="x", name="X", mapping="canonical", location=location), mappings={})
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert [str(p) for p in caught.value.problems] == [
        f"{config}/sources.yaml: agency 'x', key 'location': must be one folder name under data/landing/ (no '..', "
        "no '/')"]


def test_the_readme_example_is_a_valid_configuration(messy):
    config = load_config(config_of(messy))
    costs = config.layout(config.agency("messy"), "costs")
    assert (costs.file, costs.encoding, costs.thousands, costs.scale) == (
        "costs.csv", "cp1252", ",", {"cost_gbp": 1000.0})


def test_agency_name_with_sql_metacharacters_is_data(messy, tmp_path):
    name = "O'Brien & Sons'); DROP TABLE stg_agencies; --"
    config = config_with(tmp_path / "other", agency(id="messy", name=name, mapping="messy_wide"),
                         mappings={"messy_wide": MESSY_MAPPING})
    assert run_graph(messy, "2025-09-01", "2025-09-01", config_dir=config).success
    assert query(messy, "SELECT agency_name FROM stg_agencies") == [(name,)]
    assert query(messy, "SELECT DISTINCT agency_name FROM submission_status") == [(name,)]
