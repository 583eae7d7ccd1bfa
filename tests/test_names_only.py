"""A publisher that names its services only, with rolling 12 months in its headers and one header typo, published
every quarter, onboarded by configuration alone (issue 23): its published figures equal those computed here from
the raw file, ids derived from names are stable, and what cannot be told apart is an error naming both."""

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from pipelines.lib.config import PROJECT_CONFIG_DIR, ConfigError, load_config
from pipelines.lib.resources import DataStore
from transforms.canonical import LayoutError
from transforms.layouts import headers_of_odd_length, service_id_from
from transforms.mappings import CatalogueLayout, ReturnLayout
from transforms.staging import FILE, ROW, normalise

ROOT = Path(__file__).parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "names_only" / "services.csv"  # made up: tests/fixtures/README.md
EXAMPLE = ROOT / "config" / "examples" / "names_only"
CODES = {"onl": "online", "tel": "phone", "person": "face_to_face", "post": "paper"}


def onboarded_config(tmp_path: Path) -> Path:
    """The project's configuration with the example's registry entry and mapping in it, nothing else."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_CONFIG_DIR, config)
    shutil.copy(EXAMPLE / "sources.yaml", config / "sources.yaml")
    shutil.copy(EXAMPLE / "mappings" / "waterways.yaml", config / "mappings" / "waterways.yaml")
    return config


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[DataStore, subprocess.CompletedProcess]:
    """python -m pipelines.run (as `make run`) over the fixture landed in its last quarter's folder, with the
    onboarded configuration (its registry's first month is 2014-04, so a separate process)."""
    root = tmp_path_factory.mktemp("names_only")
    store = DataStore(data_dir=str(root / "data"))
    folder = store.landing / "waterways" / "2015-12"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURE, folder / "services.csv")
    (root / "home").mkdir()
    env = {**os.environ, "PIPELINE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home"),
           "PIPELINE_CONFIG_DIR": str(onboarded_config(root))}
    done = subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "succeeded" in done.stdout, done.stdout + done.stderr[-3000:]
    return store, done


def expected_figures() -> dict[tuple[str, dt.date, dt.date], tuple]:
    """(service name, first day, last day) -> (volume, digital volume, take-up), read with the csv module: a header
    names the 12 months ending in its last month (so the typo's first year does not count), a cell empty was not
    sent, '-' was sent as not provided; digital is 0 where the channels listed leave online out (and its figure,
    if any, is set aside), unknown where they say ND and nothing digital was sent."""
    with FIXTURE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {}
    for row in rows:
        codes = None if row["Channels"] == "ND" else {c.strip() for c in row["Channels"].split(",")}
        for header in row:
            if not header.endswith(" Volume"):
                continue
            period = header.removesuffix(" Volume")
            last = dt.datetime.strptime(period.split(" to ")[1], "%B %Y").date()
            first = dt.date(last.year - (last.month < 12), last.month % 12 + 1, 1)
            end = dt.date(last.year + (last.month == 12), last.month % 12 + 1, 1) - dt.timedelta(days=1)
            digital_header = f"{first:%B %Y} to {last:%B %Y} Digital volume"
            volume, digital = row[header], row[digital_header]
            if not volume and not digital:
                continue
            total = int(volume.replace(",", "")) if volume not in ("", "-") else None
            if codes is not None and "onl" not in codes:
                digital = 0
            else:
                digital = int(digital.replace(",", "")) if digital not in ("", "-") else None
            take_up = digital / total if digital is not None and total else None
            expected[(row["Service"], first, end)] = (total, digital, take_up)
    return expected


def test_published_figures_equal_those_computed_from_the_raw_file(published):
    store, _ = published
    figures = duckdb.sql(f"""
        SELECT services.service_name, period_start, period_end, transactions_completed,
            digital_transactions_completed, digital_take_up_rate
        FROM read_parquet('{store.published / "kpi_by_period.parquet"}') AS kpis
        JOIN read_parquet('{store.published / "service_catalogue.parquet"}') AS services USING (service_id)
        WHERE source = 'submitted' AND channel = 'all'""").fetchall()
    published_figures = {(name, start, end): (total, digital, take_up)
                         for name, start, end, total, digital, take_up in figures}
    expected = expected_figures()
    assert len(expected) == 30  # 8 services x 4 periods, less the two the flood grant did not send
    assert published_figures == expected  # take-up: the same division of the same two integers, so exactly equal


def test_the_return_is_its_own_catalogue(published):
    store, _ = published
    with store.connect() as con:
        services = con.execute("SELECT service_id, service_name, department, channels_offered "
                               "FROM stg_service_catalogue ORDER BY service_id").fetchall()
    assert services == [
        ("apply-for-a-fishing-licence", "Apply for a fishing licence", "Environment", ["online", "paper", "phone"]),
        ("apply-for-a-fishing-licence-lifetime", "Apply for a fishing licence: lifetime", "Environment",
         ["online", "paper"]),
        ("book-a-lock-passage", "Book a lock passage", "Transport", ["online"]),
        ("cafe-street-trading-licence", "Café & street-trading licence", "Local services",
         ["face_to_face", "online", "paper"]),
        ("claim-a-flood-recovery-grant", "Claim a flood recovery grant", "Environment", ["online", "paper", "phone"]),
        ("register-a-boat", "Register a boat", "Transport", None),
        ("renew-a-fishing-licence", "Renew a fishing licence", "Environment", ["online", "phone"]),
        ("report-a-pollution-incident", "Report a pollution incident", "Environment", ["face_to_face", "phone"])]


def test_submission_status_expects_a_return_each_quarter_only(published):
    store, _ = published
    with store.connect() as con:
        assert con.execute("SELECT month, period_name, status FROM submission_status").fetchall() == [
            (dt.date(2015, 12, 1), "12 months to Dec 2015", "late")]  # landed now, due on 2016-01-15


@pytest.mark.parametrize("name, service_id", [
    ("Apply for a Blue Badge (renewal)", "apply-for-a-blue-badge-renewal"),
    ("  Café — licence  ", "cafe-licence"),
    ("Ŵyl Dewi: book a stall", "wyl-dewi-book-a-stall"),
    ("Form 27B/6", "form-27b-6"),
    ("---", None),
])
def test_an_id_derived_from_a_name(name, service_id):
    assert pl.select(service_id_from(pl.lit(name))).item() == service_id


def test_two_names_that_give_one_id_are_an_error_naming_both():
    layout = ReturnLayout.model_validate({"file": "t.csv", "rename": {"Service": "service_name", "Period": "month"},
                                          "service_id": {"from": "service_name"}})
    frame = pl.DataFrame({"Service": ["Book a test", "Book a Test!", "Book a test"], "Period": ["2024-03"] * 3,
                          "channel": ["online"] * 3, "transactions_completed": ["1", "2", "3"],
                          FILE: ["t.csv"] * 3, ROW: [1, 2, 3]})
    with pytest.raises(LayoutError) as raised:
        normalise(frame, layout, "transactions")
    assert str(raised.value).startswith("the names 'Book a Test!' and 'Book a test' both give the service id "
                                        "'book-a-test'")
    assert raised.value.rule == "service_ids_collide"
    assert normalise(frame.head(1), layout, "transactions").select("service_id").item() == "book-a-test"


def test_a_prefix_keeps_publishers_apart():
    layout = CatalogueLayout.model_validate({"file": "s.csv", "rename": {"Name": "service_name"},
                                             "service_id": {"from": "service_name", "prefix": "uk-"}})
    assert layout.service_id.prefix == "uk-"
    assert pl.select(service_id_from(pl.lit("Book a test"), "uk-")).item() == "uk-book-a-test"


def config_problems(tmp_path: Path, mapping: dict) -> list[str]:
    config = onboarded_config(tmp_path)
    (config / "mappings" / "waterways.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    return [problem.message for problem in raised.value.problems]


def test_the_mapping_keys_are_typed(tmp_path):
    mapping = yaml.safe_load((EXAMPLE / "mappings" / "waterways.yaml").read_text(encoding="utf-8"))
    mapping["returns"]["transactions"]["service_id"] = {"from": "Service", "prefx": "x"}
    mapping["returns"]["catalogue"]["rename"]["Slug"] = "service_id"
    assert config_problems(tmp_path, mapping) == [
        "must be one of 'service_name', not 'Service'", "unknown key (did you mean 'prefix'?)",
        "the id is derived from the name or renamed from a column, not both"]


def test_a_wrong_channel_sets_aside_that_channel_and_the_record_names_service_and_period(published):
    store, _ = published
    with store.connect() as con:
        assert con.execute("SELECT return_type, row_number, rule, column_name, offending_value, service_id, "
                           "period_start, period_end FROM quarantine").fetchall() == [
            ("transactions", 3, "channel_not_offered", "channel", "online", "report-a-pollution-incident",
             dt.date(2014, 10, 1), dt.date(2015, 9, 30))]
        # the period's total is published; its digital figure is not (0: online is not offered)
        assert con.execute("SELECT transactions_completed, digital_transactions_completed FROM kpi_by_period "
                           "WHERE service_id = 'report-a-pollution-incident' AND period_start = '2014-10-01' "
                           "AND channel = 'all'").fetchall() == [(47900, 0)]


def test_the_header_typo_is_corrected_by_rename_and_warned_about_without_it(published):
    _, done = published
    # the mapping's rename corrects the typo before the headers are read (the run still warns that no completion rate
    # is formed: the publisher sends no started count)
    assert "months where its family's period_months" not in done.stdout
    with FIXTURE.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    families = ReturnLayout.model_validate(yaml.safe_load((EXAMPLE / "mappings" / "waterways.yaml").read_text(
        encoding="utf-8"))["returns"]["transactions"]).headers
    assert headers_of_odd_length(header, families) == [
        "the header 'January 2014 to December 2015 Volume' names 24 months where its family's period_months is 12: "
        "read as the 12 months ending December 2015; if it is a typo, correct it with rename (README, Onboarding "
        "an agency)"]
    assert headers_of_odd_length(["2016-Q1 Volume", "July 2015 to June 2016 Volume"], families) == []
