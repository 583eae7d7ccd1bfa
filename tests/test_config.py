"""Pins the configuration's checks: the committed config/ loads as typed models, each kind of broken configuration
gives one ConfigError naming the file, the entry and the key (never a bare KeyError or TypeError), and a broken
configuration stops a run before it writes anything, skips the sensor and fails `check-config`."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.__main__ import main
from pipelines.definitions import defs
from pipelines.defs.automation.alerts import run_failure_alert
from pipelines.defs.automation.sensors import submission_sensor
from pipelines.lib.config import PROJECT_CONFIG_DIR, ConfigError, load_config
from pipelines.lib.resources import DataStore, Settings
from tests.conftest import run_graph
from tests.operations import PROCESS_SECONDS, REPO


def copied(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(PROJECT_CONFIG_DIR, config)
    return config


def edit(config: Path, name: str, change) -> None:
    """Apply `change` to the parsed YAML of one file and write it back."""
    path = config / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def problems(config: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return [str(problem) for problem in caught.value.problems]


def agency(index: int, **fields):
    """A change to one entry of sources.yaml: these fields set."""
    return lambda data: data["agencies"][index].update(fields)


def layout(mapping: str, return_type: str, change):
    return f"mappings/{mapping}.yaml", lambda data: change(data["returns"][return_type])


def rename_key(container: dict, old: str, new: str) -> None:
    container[new] = container.pop(old)


def test_the_committed_configuration_loads():
    config = load_config(PROJECT_CONFIG_DIR)
    assert [(a.id, a.connector, a.format, a.mapping, a.return_due_day, a.folder) for a in config.agencies] == [
        ("revenue", "file_drop", "csv", "canonical", 10, "revenue"),
        ("vehicles", "file_drop", "xlsx", "xlsx_wide", 15, "vehicles"),
        ("passports", "file_drop", "csv", "canonical", 10, "passports"),
        ("pensions", "file_drop", "json", "json_records", 12, "pensions"),
        ("land", "file_drop", "csv", "canonical", 10, "land"),
        ("companies", "file_drop", "csv", "canonical", 10, "companies"),
        ("courts", "file_drop", "xlsx", "xlsx_wide", 20, "courts"),
        ("guardian", "file_drop", "json", "json_records", 12, "guardian"),
        ("health", "file_drop", "csv", "canonical", 15, "health"),
        ("environment", "file_drop", "csv", "canonical", 15, "environment")]
    assert sorted(config.mappings) == ["canonical", "extract", "json_records", "xlsx_wide"]
    assert config.agency("nobody") is None
    costs = config.layout(config.agency("vehicles"), "costs")
    assert (costs.file, costs.sheet, costs.scale, costs.encoding, costs.unpivot) == (
        "monthly_return.xlsx", "Costs", {"cost_gbp": 1000.0}, "utf-8", None)
    assert config.layout(config.agency("vehicles"), "transactions").unpivot.model_dump() == {
        "value": "transactions_completed", "total": "Total completed",
        "columns": {"Online": "online", "Telephone": "phone", "Face to face": "face_to_face", "Post": "paper",
                    "Assisted digital": "assisted_digital", "Other": "other"}, "combine": {}}
    extract = config.mappings["extract"].returns.transactions
    assert (extract.file, extract.extract) == (None, "extract-*")
    assert config.housekeeping.model_dump() == {"raw_archive": {"superseded_keep_days": None},
                                                "run_history": {"keep_days": 400},
                                                "temporary_files": {"keep_hours": 24}}
    assert config.open_data.package.licenses[0].name == "OGL-UK-3.0"


def test_the_benchmark_registry_loads(tmp_path):
    config = copied(tmp_path)
    shutil.copyfile(Path(__file__).resolve().parents[1] / "benchmarks" / "sources.yaml", config / "sources.yaml")
    assert [(a.id, a.format, a.mapping) for a in load_config(config).agencies] == [
        ("customs", "extract", "extract"), ("licensing", "extract", "extract")]


HTTP = {"connector": "http", "format": "json", "url": "https://api.example.gov/{return}?month={month}"}

BROKEN = {
    "typo_in_a_key": (
        "sources.yaml", lambda data: rename_key(data["agencies"][0], "connector", "conector"),
        "sources.yaml: agency 'revenue', key 'conector': unknown key (did you mean 'connector'?)"),
    "unknown_connector": (
        "sources.yaml", agency(0, connector="ftp_drop"),
        "sources.yaml: agency 'revenue', key 'connector': must be one of 'file_drop', 'http' or "
        "'performance_platform', not 'ftp_drop'"),
    "ftp_url": (
        "sources.yaml", agency(0, **HTTP | {"url": "ftp://files.example.gov/{return}/{month}.json"}),
        "sources.yaml: agency 'revenue', key 'url': must be an http:// or https:// address"),
    "http_without_url": (
        "sources.yaml", agency(0, connector="http", format="json"),
        "sources.yaml: agency 'revenue', key 'url': missing: an http agency needs the address of its API"),
    "url_without_month": (
        "sources.yaml", agency(0, **HTTP | {"url": "https://api.example.gov/{return}"}),
        "sources.yaml: agency 'revenue', key 'url': must contain {month} and {return}: each return of each month "
        "has its own address"),
    "url_for_a_file_drop": (
        "sources.yaml", agency(0, url="https://api.example.gov/{return}?month={month}"),
        "sources.yaml: agency 'revenue', key 'url': is read only for connector http, not file_drop"),
    "page_cap_for_a_file_drop": (
        "sources.yaml", agency(0, max_pages=10),
        "sources.yaml: agency 'revenue', key 'max_pages': is read only for connector http, not file_drop"),
    "no_time_for_a_return": (
        "sources.yaml", agency(0, **HTTP | {"return_deadline_seconds": 0}),
        "sources.yaml: agency 'revenue', key 'return_deadline_seconds': must be greater than 0"),
    "next_pagination_of_csv": (
        "sources.yaml", agency(0, **HTTP | {"format": "csv", "pagination": "next"}),
        "sources.yaml: agency 'revenue', key 'pagination': next reads a field of a JSON body; use link or page "
        "for csv"),
    "duplicate_agency_id": (
        "sources.yaml", agency(2, id="revenue"),
        "sources.yaml: agency 'revenue', key 'id': entries 1 and 3 have this id; each agency has its own"),
    "duplicate_folder": (
        "sources.yaml", agency(2, location="revenue"),
        "sources.yaml: agency 'passports', key 'location': data/landing/revenue/ is also the folder of agency "
        "'revenue'; each agency has its own"),
    "folder_outside_landing": (
        "sources.yaml", agency(0, location="../outside"),
        "sources.yaml: agency 'revenue', key 'location': must be one folder name under data/landing/ (no '..', "
        "no '/')"),
    "folder_of_the_central_files": (
        "sources.yaml", agency(0, location="catalogue"),
        "sources.yaml: agency 'revenue', key 'location': data/landing/catalogue/ holds the central team's files, "
        "not an agency's"),
    "mapping_that_does_not_exist": (
        "sources.yaml", agency(0, mapping="canonicall"),
        "sources.yaml: agency 'revenue', key 'mapping': there is no mappings/canonicall.yaml"),
    "format_csvv": (
        "sources.yaml", agency(0, format="csvv"),
        "sources.yaml: agency 'revenue', key 'format': must be one of 'csv', 'xlsx', 'json', 'parquet' or "
        "'extract', not 'csvv'"),
    "due_day_29": (
        "sources.yaml", agency(0, return_due_day=29),
        "sources.yaml: agency 'revenue', key 'return_due_day': must be a day from 1 to 28 (one that every month "
        "has), not 29"),
    "due_day_on_the_cycle_day": (
        "sources.yaml", agency(0, return_due_day=21),
        "sources.yaml: agency 'revenue', key 'return_due_day': must be before day 21, when the monthly cycle "
        "runs, not 21"),
    "credential_given_as_a_value": (
        "sources.yaml", agency(0, credential_env="tok-4f9a2c7e1b"),
        "sources.yaml: agency 'revenue', key 'credential_env': must be the name of an environment variable "
        "(capital letters, digits and _, such as DVLA_API_TOKEN), never the credential itself"),
    "agency_not_a_mapping": (
        "sources.yaml", lambda data: data["agencies"].__setitem__(0, "revenue"),
        "sources.yaml: agency #1: must be a mapping (key: value)"),
    "records_agency_with_a_returns_mapping": (
        "sources.yaml", agency(0, connector="performance_platform", format="json"),
        "sources.yaml: agency 'revenue', key 'mapping': mapping 'canonical' has no records, which a "
        "performance_platform agency sends"),
    "http_agency_with_extracts": (
        "sources.yaml", agency(0, **HTTP | {"mapping": "extract"}),
        "sources.yaml: agency 'revenue', key 'mapping': mapping 'extract' names no file for transactions: an "
        "http agency's returns are fetched into the files its mapping names"),
    "mapping_missing_a_return": (
        "mappings/canonical.yaml", lambda data: data["returns"].pop("costs"),
        "mappings/canonical.yaml: mapping 'canonical', key 'returns.costs': missing (required)"),
    "unknown_return_type": (
        "mappings/canonical.yaml", lambda data: rename_key(data["returns"], "costs", "cost"),
        "mappings/canonical.yaml: mapping 'canonical', key 'returns.cost': unknown key (did you mean 'costs'?)"),
    "typo_inside_unpivot": (
        *layout("xlsx_wide", "transactions", lambda returns: rename_key(returns["unpivot"], "total", "totl")),
        "mappings/xlsx_wide.yaml: mapping 'xlsx_wide', return 'transactions', key 'unpivot.totl': unknown key "
        "(did you mean 'total'?)"),
    "unpivot_to_a_channel_that_does_not_exist": (
        *layout("xlsx_wide", "transactions", lambda returns: returns["unpivot"]["columns"].update(Telephone="tel")),
        "mappings/xlsx_wide.yaml: mapping 'xlsx_wide', return 'transactions', key 'unpivot.columns.Telephone': "
        "must be one of 'online', 'phone', 'face_to_face', 'paper', 'assisted_digital' or 'other', not 'tel'"),
    "rename_to_a_column_that_does_not_exist": (
        *layout("xlsx_wide", "costs", lambda returns: returns["rename"].update({"Channel": "chanel"})),
        "mappings/xlsx_wide.yaml: mapping 'xlsx_wide', return 'costs', key 'rename.Channel': 'chanel' is not a "
        "column of costs (service_id, month, cost_category, channel, cost_gbp) nor one this layout reads, so the "
        "renamed column would be ignored"),
    "negative_scale": (
        *layout("xlsx_wide", "costs", lambda returns: returns["scale"].update(cost_gbp=-1000)),
        "mappings/xlsx_wide.yaml: mapping 'xlsx_wide', return 'costs', key 'scale.cost_gbp': must be greater "
        "than 0"),
    "scale_of_a_column_that_is_not_a_figure": (
        *layout("xlsx_wide", "costs", lambda returns: rename_key(returns["scale"], "cost_gbp", "cost_gpb")),
        "mappings/xlsx_wide.yaml: mapping 'xlsx_wide', return 'costs', key 'scale.cost_gpb': is not a figure of "
        "costs (cost_gbp)"),
    "unknown_encoding": (
        *layout("canonical", "costs", lambda returns: returns.update(encoding="cp1525")),
        "mappings/canonical.yaml: mapping 'canonical', return 'costs', key 'encoding': 'cp1525' is not a text "
        "encoding Python knows (such as utf-8 or cp1252)"),
    "extract_of_costs": (
        *layout("canonical", "costs", lambda returns: returns.update(extract="costs-*")),
        "mappings/canonical.yaml: mapping 'canonical', return 'costs', key 'extract': only transactions arrive as "
        "extracts"),
    "file_in_a_folder": (
        *layout("canonical", "costs", lambda returns: returns.update(file="../costs.csv")),
        "mappings/canonical.yaml: mapping 'canonical', return 'costs', key 'file': must be a file name, without "
        "a folder"),
    "catalogue_with_a_sheet": (  # a catalogue is read from its first sheet; only a return names one
        "mappings/canonical.yaml", lambda data: data["returns"].update(
            catalogue={"file": "services.xlsx", "rename": {"Ref": "service_id"}, "sheet": "Services"}),
        "mappings/canonical.yaml: mapping 'canonical', return 'catalogue', key 'sheet': unknown key (did you mean "
        "'sheet'?)"),
    "negative_retention": (
        "housekeeping.yaml", lambda data: data["run_history"].update(keep_days=-1),
        "housekeeping.yaml: run_history, key 'keep_days': must be greater than or equal to 0"),
    "typo_in_housekeeping": (
        "housekeeping.yaml", lambda data: rename_key(data["temporary_files"], "keep_hours", "keep_hour"),
        "housekeeping.yaml: temporary_files, key 'keep_hour': unknown key (did you mean 'keep_hours'?)"),
    "columns_described_in_a_deployment": (  # what a column means is the code's (transforms/columns.yaml)
        "open_data.yaml", lambda data: data.update(fields={"month": {"description": "The month."}}),
        "open_data.yaml: key 'fields': unknown key"),
    "licence_not_a_web_address": (
        "open_data.yaml", lambda data: data["package"]["licenses"][0].update(path="licence.txt"),
        "open_data.yaml: package, key 'licenses[0].path': must be an http:// or https:// address"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_configuration_names_file_entry_and_key(tmp_path, name):
    config = copied(tmp_path)
    file, change, expected = BROKEN[name]
    edit(config, file, change)
    assert problems(config) == [f"{config}/{expected}"]


def test_a_credential_written_as_a_value_is_not_repeated(tmp_path):
    config = copied(tmp_path)
    edit(config, "sources.yaml", agency(0, credential_env="tok-4f9a2c7e1b"))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "tok-4f9a2c7e1b" not in str(caught.value)


def test_bad_yaml_names_file_and_line(tmp_path):
    config = copied(tmp_path)
    (config / "sources.yaml").write_text("agencies:\n  - {id: revenue, name: Revenue\n  - {id: land}\n",
                                         encoding="utf-8")
    assert problems(config) == [f"{config}/sources.yaml: line 3, column 5: not valid YAML: expected ',' or '}}', "
                                "but got '{'"]


def test_a_key_given_twice_is_an_error(tmp_path):
    config = copied(tmp_path)
    (config / "mappings" / "canonical.yaml").write_text(
        "returns:\n  transactions: {file: transactions.csv}\n  costs: {file: costs.csv}\n"
        "  satisfaction: {file: satisfaction.csv}\n  costs: {file: costs2.csv}\n", encoding="utf-8")
    assert problems(config) == [f"{config}/mappings/canonical.yaml: line 5, column 3: not valid YAML: the key "
                                "'costs' is given twice"]


def test_missing_empty_and_unreadable_files_are_named(tmp_path):
    config = copied(tmp_path)
    (config / "housekeeping.yaml").unlink()
    (config / "open_data.yaml").write_text("# nothing yet\n", encoding="utf-8")
    # an e-acute saved by an old editor as cp1252: byte 34, counting from 0
    (config / "mappings" / "canonical.yaml").write_bytes("returns: {transactions: {file: caf\u00e9.csv}}\n"
                                                         .encode("cp1252"))
    assert problems(config) == [f"{config}/housekeeping.yaml: the file is missing",
                                f"{config}/open_data.yaml: the file is empty",
                                f"{config}/mappings/canonical.yaml: the file is not UTF-8 text (byte 34)"]


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    config = copied(tmp_path)
    edit(config, "sources.yaml", agency(1, connector="ftp_drop", return_due_day=31))
    edit(config, "sources.yaml", agency(4, conector="file_drop"))
    edit(config, *layout("xlsx_wide", "costs", lambda returns: returns["scale"].update(cost_gbp=0)))
    edit(config, "housekeeping.yaml", lambda data: data["raw_archive"].update(superseded_keep_days="a year"))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == "\n".join([
        "the configuration has 5 problems:",
        f"  {config}/sources.yaml: agency 'vehicles', key 'connector': must be one of 'file_drop', 'http' or "
        "'performance_platform', not 'ftp_drop'",
        f"  {config}/sources.yaml: agency 'vehicles', key 'return_due_day': must be a day from 1 to 28 (one that "
        "every month has), not 31",
        f"  {config}/sources.yaml: agency 'land', key 'conector': unknown key (did you mean 'connector'?)",
        f"  {config}/housekeeping.yaml: raw_archive, key 'superseded_keep_days': must be a valid integer, unable "
        "to parse string as an integer",
        f"  {config}/mappings/xlsx_wide.yaml: mapping 'xlsx_wide', return 'costs', key 'scale.cost_gbp': must be "
        "greater than 0"])


DUPLICATE_ID = "sources.yaml: agency 'revenue', key 'id': entries 1 and 3 have this id; each agency has its own"


@pytest.fixture
def broken(tmp_path) -> tuple[DataStore, Path]:
    """A duplicate agency id (which once deleted another agency's staged rows) and a return waiting in landing."""
    config = copied(tmp_path)
    edit(config, "sources.yaml", agency(2, id="revenue"))
    store = DataStore(data_dir=str(tmp_path / "data"))
    (store.landing / "catalogue").mkdir(parents=True)
    (store.landing / "catalogue" / "services.csv").write_text(
        "service_id,service_name,agency_id,department,category,customer_type,channels_offered,high_volume\n"
        "REV-1,File a return,revenue,Treasury,tax,citizen,online,false\n", encoding="utf-8")
    (store.landing / "revenue" / "2025-07").mkdir(parents=True)
    (store.landing / "revenue" / "2025-07" / "transactions.csv").write_text(
        "service_id,month,channel,transactions_started,transactions_completed\n"
        "REV-1,2025-07-01,online,2,1\n", encoding="utf-8")
    return store, config


def test_a_broken_configuration_stops_the_run_before_anything_is_written(broken, tmp_path):
    store, config = broken
    result = run_graph(store, "2025-07-01", "2025-07-01", config_dir=config)
    assert not result.success
    assert [e.event_type for e in result.all_events if e.is_step_start or e.is_step_success] == []
    # nothing archived, no warehouse, nothing published: the data folder holds what landed, and no more
    assert sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()) == [
        "landing/catalogue/services.csv", "landing/revenue/2025-07/transactions.csv"]
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_event=failure, dagster_instance=dg.DagsterInstance.ephemeral(),
        dagster_run=result.dagster_run).for_run_failure()
    alerts = DataStore(data_dir=str(tmp_path / "alerting"))
    run_failure_alert(context, store=alerts, settings=Settings(config_dir=str(config)))
    [alert] = (alerts.root / "alerts").iterdir()
    assert json.loads(alert.read_text(encoding="utf-8"))["message"].splitlines()[1:] == [
        "pipelines.lib.config.loading.ConfigError: the configuration has 1 problem:", f"  {config}/{DUPLICATE_ID}"]


def test_the_submission_sensor_starts_nothing_and_says_why(broken):
    store, config = broken
    context = dg.build_sensor_context(resources={"store": store, "settings": Settings(config_dir=str(config))},
                                      definitions=defs, instance=dg.DagsterInstance.ephemeral())
    result = submission_sensor.evaluate_tick(context)
    assert (result.run_requests, result.cursor) == ([], None)  # the landed files are seen again once it is fixed
    assert result.skip_message == f"no run started: the configuration has 1 problem:\n  {config}/{DUPLICATE_ID}"


def test_check_config_prints_every_problem_and_exits_1(broken):
    _, config = broken
    env = {**os.environ, "PIPELINE_CONFIG_DIR": str(config)}  # as `make check-config PIPELINE_CONFIG_DIR=...`
    done = subprocess.run([sys.executable, "-m", "pipelines", "check-config"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=PROCESS_SECONDS)
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"the configuration has 1 problem:\n  {config}/{DUPLICATE_ID}\n")


def test_check_config_of_the_committed_configuration_exits_0(capsys):
    assert main(["check-config", "--config-dir", str(PROJECT_CONFIG_DIR)]) == 0
    assert capsys.readouterr().out == f"{PROJECT_CONFIG_DIR}: the configuration holds: 10 agencies, 4 mappings\n"


def test_check_config_refuses_a_rename_to_a_column_that_staging_never_reads(tmp_path):
    config = copied(tmp_path)
    edit(config, *layout("json_records", "transactions",
                         lambda returns: returns["rename"].update(started="transactions_begun")))
    done = subprocess.run([sys.executable, "-m", "pipelines", "check-config", "--config-dir", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"the configuration has 1 problem:\n  {config}/mappings/json_records.yaml: mapping 'json_records', "
               "return 'transactions', key 'rename.started': 'transactions_begun' is not a column of transactions "
               "(service_id, month, channel, transactions_started, transactions_completed) nor one this layout "
               "reads, so the renamed column would be ignored\n")
