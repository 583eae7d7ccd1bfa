"""Pins the configuration's checks: the committed config/ loads as typed models, and each kind of broken
configuration gives one ConfigError naming the file, the entry and the key, never a bare KeyError or TypeError."""

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.lib.config import PROJECT_CONFIG_DIR, ConfigError, load_config


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
                    "Assisted digital": "assisted_digital", "Other": "other"}}
    extract = config.mappings["extract"].returns.transactions
    assert (extract.file, extract.extract) == (None, "extract-*")
    assert config.housekeeping.model_dump() == {"raw_archive": {"superseded_keep_days": None},
                                                "run_history": {"keep_days": 400},
                                                "temporary_files": {"keep_hours": 24}}
    assert config.open_data.package.licenses[0].name == "OGL-UK-3.0"
    assert config.open_data.fields["category"].description == (
        "The kind of service (licence, registration, benefit, tax ...); costs compare fairly only within a kind.")


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
    "negative_retention": (
        "housekeeping.yaml", lambda data: data["run_history"].update(keep_days=-1),
        "housekeeping.yaml: run_history, key 'keep_days': must be greater than or equal to 0"),
    "typo_in_housekeeping": (
        "housekeeping.yaml", lambda data: rename_key(data["temporary_files"], "keep_hours", "keep_hour"),
        "housekeeping.yaml: temporary_files, key 'keep_hour': unknown key (did you mean 'keep_hours'?)"),
    "typo_in_a_field": (
        "open_data.yaml", lambda data: rename_key(data["fields"]["month"], "unit", "units"),
        "open_data.yaml: field 'month', key 'units': unknown key (did you mean 'unit'?)"),
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


def test_missing_and_empty_files_are_named(tmp_path):
    config = copied(tmp_path)
    (config / "housekeeping.yaml").unlink()
    (config / "open_data.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert problems(config) == [f"{config}/housekeeping.yaml: the file is missing",
                                f"{config}/open_data.yaml: the file is empty"]


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
