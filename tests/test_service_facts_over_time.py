"""Service facts over time (issue 23): a two-year inventory whose services change channels between the years, whose
second year splits "other" into three columns and marks channels not applicable or without data, gives the figures
of the raw files, each year judged by its own facts, and loading the second year leaves the first as published."""

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

from pipelines.lib.tables import build_months, build_table
from pipelines.lib.warehouse import bootstrap
from transforms.catalogue import CATALOGUE
from pipelines.run import revised
from transforms.layouts import FACTS_FROM_RETURN
from transforms.mappings import ReturnLayout
from transforms.staging import normalise, validate

ROOT = Path(__file__).parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "two_year_inventory"  # made up: tests/fixtures/README.md
CONFIG = ROOT / "config" / "examples" / "two_year_inventory"
YEARS = {"2023-03": "2022-2023", "2024-03": "2023-2024"}  # the folder of each year's March -> its file's year
FIRST_YEAR = (dt.date(2022, 4, 1), dt.date(2023, 3, 31))
CODES = {"onl": "online", "tel": "phone", "person": "face_to_face", "post": "paper", "other": "other"}
COLUMNS = {"online": ["online_applications"], "phone": ["telephone_applications"],
           "face_to_face": ["in_person_applications"], "paper": ["postal_mail_applications"],
           "other": ["email_applications", "fax_applications", "other_applications"]}
NOT_APPLICABLE, NO_DATA = {"NA", "not_applicable"}, {"ND", "no_data"}


def expected(year: str) -> dict:
    """(service, financial year start) -> (volume, digital volume, digital take-up), from the raw file alone: a
    channel's columns added up (none provided if one is not), not applicable cells not offered, the channels offered
    from the codes column where the file has one, else from the cells (one channel with only no_data: unknown)."""
    with (FIXTURE / f"{year}_services.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    found = {}
    for row in rows:
        cells = {ch: [row[c].replace(",", "") for c in columns if c in row] for ch, columns in COLUMNS.items()}
        value = {}
        for channel, parts in cells.items():
            if all(p in NOT_APPLICABLE for p in parts):
                continue
            value[channel] = None if any(p in NO_DATA for p in parts) else sum(
                int(p) for p in parts if p not in NOT_APPLICABLE)
        if not value:  # no channel offered at all: quarantined (below), no figure
            continue
        if "service_channels" in row:
            codes = row["service_channels"]
            offered = None if codes == "ND" else {CODES[c] for c in codes.split(",")}
        else:
            unknown = any(all(p in NO_DATA | NOT_APPLICABLE for p in parts) and any(p in NO_DATA for p in parts)
                          for parts in cells.values())
            offered = None if unknown else set(value)
        if offered is None:  # nobody says which channels: no total can be formed
            total, digital = None, value.get("online")
        else:
            figures = [value.get(channel) for channel in offered]
            total = None if None in figures else sum(figures)
            digital = value.get("online") if "online" in offered else 0
        rate = digital / total if total and digital is not None else None
        found[(row["service_id"], dt.date(int(year[:4]), 4, 1))] = (total, digital, rate)
    return found


def run_pipeline(root: Path) -> subprocess.CompletedProcess:
    """python -m pipelines.run (as `make run`) over root/data with the inventory's configuration."""
    env = {**os.environ, "PIPELINE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home"),
           "PIPELINE_CONFIG_DIR": str(CONFIG), "GX_ANALYTICS_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True, text=True)


def land(root: Path, month: str) -> None:
    folder = root / "data" / "landing" / "two_year_inventory" / month
    folder.mkdir(parents=True)
    shutil.copy(FIXTURE / f"{YEARS[month]}_services.csv", folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The first year loaded and published, its published files kept; then the second year loaded on top."""
    root = tmp_path_factory.mktemp("inventory")
    (root / "home").mkdir()
    land(root, "2023-03")
    first = run_pipeline(root)
    assert "monthly_cycle 2023-03 to 2023-03: succeeded" in first.stdout, first.stdout + first.stderr[-3000:]
    shutil.copytree(root / "data" / "published", root / "published_first_year")
    land(root, "2024-03")
    second = run_pipeline(root)
    assert "monthly_cycle 2023-03 to 2024-03: succeeded" in second.stdout, second.stdout + second.stderr[-3000:]
    return {"root": root, "first": first, "second": second}


def test_volume_digital_volume_and_take_up_equal_the_raw_files_every_service_and_year(runs):
    rows = duckdb.execute(
        "SELECT service_id, period_start, transactions_completed, digital_transactions_completed, "
        "digital_take_up_rate FROM read_parquet(?) WHERE source = 'submitted' AND channel = 'all' "
        "AND grain = 'financial_year'", [str(runs["root"] / "data" / "published" / "kpi_by_period.parquet")]
    ).fetchall()
    got = {(s, p): (total, None if digital is None else int(digital), rate) for s, p, total, digital, rate in rows}
    assert got == {**expected("2022-2023"), **expected("2023-2024")}
    # the channels changed between the years, and each year is judged by its own: EX-03 had no online channel in
    # the first year (take-up 0, not "not provided") and one in the second; EX-01 dropped paper and gained other
    assert got[("EX-03", dt.date(2022, 4, 1))] == (100, 0, 0.0)
    assert got[("EX-03", dt.date(2023, 4, 1))] == (150, 100, 100 / 150)
    assert got[("EX-01", dt.date(2023, 4, 1))] == (1715, 1500, 1500 / 1715)


def test_each_year_is_rolled_up_by_the_department_its_own_file_gave(runs):
    rows = duckdb.execute(
        "SELECT group_id, period_start, numerator, denominator, services_reporting, services_expected "
        "FROM read_parquet(?) WHERE level = 'department' AND kpi = 'digital_take_up' ORDER BY 1, 2",
        [str(runs["root"] / "data" / "published" / "kpi_rollups_by_period.parquet")]).fetchall()
    # EX-06 moved from Rural Affairs to Coasts in the second year; EX-07 is new then (not expected in the first)
    assert rows == [("Ministry of Coasts", dt.date(2022, 4, 1), 1700.0, 2700.0, 3, 4),
                    ("Ministry of Coasts", dt.date(2023, 4, 1), 1617.0, 1990.0, 4, 6),
                    ("Ministry of Rural Affairs", dt.date(2022, 4, 1), 1010.0, 1100.0, 1, 2)]
    con = duckdb.connect(str(runs["root"] / "data" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT service_id, department, source_file FROM stg_service_facts WHERE service_id = 'EX-06' "
                       "ORDER BY source_file").fetchall() == [
        ("EX-06", "Ministry of Rural Affairs", "two_year_inventory/2023-03/2022-2023_services.csv"),
        ("EX-06", "Ministry of Coasts", "two_year_inventory/2024-03/2023-2024_services.csv")]
    assert con.execute("SELECT count(*), any_value(message) FROM quarantine WHERE return_type = 'service_catalogue'"
                       ).fetchall() == [(6, "a later file (or the central catalogue) describes this service now; "
                                            "this file's description stays the service's facts for the periods of "
                                            "this file's returns (stg_service_facts)")]


def year_one_lines(folder: Path) -> dict[str, list[str]]:
    """Per published CSV with a period (period_start) or a month: its lines whose period or month is in the first
    financial year, as written."""
    found = {}
    for path in sorted(folder.glob("*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        header = next(csv.reader(lines[:1]))
        column = next((c for c in ("period_start", "month") if c in header), None)
        if column is None or path.stem == "kpi_service_summary":  # each service's latest period: it moves on
            continue
        at = header.index(column)
        found[path.stem] = [line for line in lines[1:] if (cell := next(csv.reader([line]))[at])
                            and FIRST_YEAR[0] <= dt.date.fromisoformat(cell[:10]) <= FIRST_YEAR[1]]
    return found


def test_loading_the_second_year_leaves_every_first_year_row_byte_identical(runs):
    before = year_one_lines(runs["root"] / "published_first_year")
    after = year_one_lines(runs["root"] / "data" / "published")
    assert {table: len(lines) for table, lines in before.items() if lines} == {
        "kpi_by_period": 24, "kpi_rollups_by_period": 4, "submission_accounting": 1, "submission_status": 1}
    assert after == before
    assert "\nrevised: nothing (no published figure changed)\n" in runs["second"].stdout


def test_a_row_whose_every_channel_is_not_applicable_is_accounted_for_by_name(runs):
    con = duckdb.connect(str(runs["root"] / "data" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT row_number, rule, offending_value FROM quarantine WHERE return_type = 'transactions'"
                       ).fetchall() == [(5, "no_channel_offered", "none: every channel is marked not applicable")]
    assert con.execute("SELECT rows_read, rows_accepted, rows_quarantined FROM submission_accounting "
                       "WHERE return_type = 'transactions' ORDER BY month").fetchall() == [(6, 6, 0), (7, 6, 1)]


def test_the_run_summary_says_how_many_figures_were_revised_and_where():
    con = duckdb.connect()
    bootstrap(con)
    con.execute("""INSERT INTO revisions VALUES
        ('kpi_by_period', 'EX-01', DATE '2022-04-01', 'all', 'transactions_completed', 1600, 1700, NULL,
         'financial_year', 'submitted'),
        ('kpi_by_period', 'EX-01', DATE '2022-04-01', 'all', 'digital_take_up_rate', 0.75, NULL, NULL,
         'financial_year', 'submitted'),
        ('kpi_digital_take_up', 'S1', DATE '2025-06-01', NULL, 'digital_take_up_rate', 0.5, 0.6, NULL, NULL, NULL)""")
    assert revised(con, -1) == (
        "\nrevised: 3 published figures changed, 1 of them withdrawn (each in revisions, from what to what):\n"
        "  kpi_by_period financial_year 2022-04: 2 figures of 1 services (1 withdrawn)\n"
        "  kpi_digital_take_up month 2025-06: 1 figures of 1 services (0 withdrawn)")
    assert revised(con, 2) == "\nrevised: nothing (no published figure changed)"


def check_config(config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIPELINE_CONFIG_DIR": str(config)}
    return subprocess.run([sys.executable, "-m", "pipelines", "check-config"], cwd=ROOT, env=env,
                          capture_output=True, text=True)


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("      combine: {other: sum}", "      #", "key 'unpivot.columns': email_applications, fax_applications, "
     "other_applications all go to 'other': say how they are added up with combine: {other: sum} (or sum_provided)"),
    ("rename: {fiscal_yr: month}", "rename: {fiscal_yr: month, year: month}", "key 'rename.year': fiscal_yr, year "
     "are all renamed to 'month': one column goes to a target (columns added up are an unpivot with combine)"),
])
def test_check_config_refuses_two_columns_to_one_target_without_a_combining_rule(tmp_path, old, new, problem):
    shutil.copytree(CONFIG, tmp_path / "config")
    mapping = tmp_path / "config" / "mappings" / "two_year_inventory.yaml"
    mapping.write_text(mapping.read_text().replace(old, new))
    done = check_config(tmp_path / "config")
    assert (done.returncode, done.stdout + done.stderr) == (1, (
        f"the configuration has 1 problem:\n  {mapping}: mapping 'two_year_inventory', return 'transactions', "
        f"{problem}\n"))


def test_check_config_names_every_problem_of_a_broken_unpivot_at_once(tmp_path):
    # an unknown key, the unpivot's own rule and a rule of the whole mapping, in one check (each hid the next)
    shutil.copytree(CONFIG, tmp_path / "config")
    mapping = tmp_path / "config" / "mappings" / "two_year_inventory.yaml"
    mapping.write_text(mapping.read_text().replace("      combine: {other: sum}", "      totl: all").replace(
        "rename: {fiscal_yr: month}", "rename: {fiscal_yr: month, year: month}"))
    done = check_config(tmp_path / "config")
    where = f"  {mapping}: mapping 'two_year_inventory', return 'transactions', key"
    assert (done.returncode, done.stdout + done.stderr) == (1, (
        f"the configuration has 3 problems:\n{where} 'unpivot.totl': unknown key (did you mean 'total'?)\n"
        f"{where} 'unpivot.columns': email_applications, fax_applications, other_applications all go to 'other': "
        "say how they are added up with combine: {other: sum} (or sum_provided)\n"
        f"{where} 'rename.year': fiscal_yr, year are all renamed to 'month': one column goes to a target (columns "
        "added up are an unpivot with combine)\n"))


def wide(**layout) -> ReturnLayout:
    return ReturnLayout.model_validate({
        "file": "x.csv", "rename": {"year": "month"}, "not_applicable": ["not_applicable"], "ambiguous": ["no_data"],
        "unpivot": {"value": "transactions_completed", "columns": {"web": "online", "email": "other", "fax": "other"},
                    "combine": {"other": layout.pop("combine", "sum")}}, **layout})


def test_columns_added_up_into_one_channel_sum_and_sum_provided():
    frame = pl.DataFrame({"service_id": ["A", "B", "C", "D"], "year": ["2023-24"] * 4, "web": ["1", "2", "3", "4"],
                          "email": ["10", "no_data", "not_applicable", "not_applicable"],
                          "fax": ["5", "7", "6", "not_applicable"], "_row_number": [1, 2, 3, 4],
                          "_source_file": ["f"] * 4})

    def other(layout: ReturnLayout) -> list:
        rows = normalise(frame, layout, "transactions").filter(pl.col("channel") == "other")
        return rows.select("service_id", "transactions_completed").rows()
    # B's email has no data: the sum is not provided, unless the mapping adds up what was provided; D offers no
    # channel other; C's not applicable email adds nothing
    assert other(wide()) == [("A", "15"), ("B", None), ("C", "6")]
    assert other(wide(combine="sum_provided")) == [("A", "15"), ("B", "7"), ("C", "6")]


def test_channels_offered_from_each_channels_markers():
    layout = wide(channels_offered={"markers": True})
    frame = pl.DataFrame({"service_id": ["A", "B", "C"], "year": ["2023-24"] * 3, "web": ["1", "not_applicable", "3"],
                          "email": ["not_applicable", "not_applicable", "no_data"],
                          "fax": ["not_applicable", "2", "not_applicable"], "_row_number": [1, 2, 3],
                          "_source_file": ["f"] * 3})
    rows = normalise(frame, layout, "transactions").group_by("service_id").agg(
        pl.col("_channels_offered").first()).sort("service_id")
    # A offers only online; B only other (its fax); C's other has no data: whether it is offered is unknown
    assert rows.rows() == [("A", ["online"]), ("B", ["other"]), ("C", None)]


# The return lists only online for its period but sends a phone figure. Judged by the catalogue (the default), both
# figures are accepted and the staged rows carry no channels of their own; judged by the return's own statement for
# the period (service_facts: return), the phone figure is for a channel not offered then.
@pytest.mark.parametrize(("facts_from_return", "accepted_rows", "quarantined_rows"), [
    (False, [("online", None), ("phone", None)], []),
    (True, [], [("channel_not_offered", "phone")]),
])
def test_service_facts_say_whether_the_catalogue_or_the_return_wins(facts_from_return, accepted_rows,
                                                                    quarantined_rows):
    layout = ReturnLayout.model_validate({
        "file": "x.csv", "rename": {"year": "month"},
        "unpivot": {"value": "transactions_completed", "columns": {"web": "online", "tel": "phone"}},
        "channels_offered": {"column": "channels", "values": {"onl": "online", "tel": "phone"}}})
    frame = pl.DataFrame({"service_id": ["A"], "year": ["2023-24"], "channels": ["onl"], "web": ["5"], "tel": ["2"],
                          "_row_number": [1], "_source_file": ["f"]})
    catalogue = pl.DataFrame({"service_id": ["A"], "agency_id": ["a"], "channels_offered": [["online", "phone"]],
                              FACTS_FROM_RETURN: [facts_from_return]})
    accepted, quarantined = validate(normalise(frame, layout, "transactions"), "transactions", "a", "2024-03-01",
                                     catalogue)
    assert accepted.select("channel", "channels_offered").rows() == accepted_rows
    assert quarantined.select("rule", "offending_value").rows() == quarantined_rows


def test_a_month_is_judged_by_the_channels_its_return_stated_then():
    con = duckdb.connect()
    bootstrap(con)
    con.execute("INSERT INTO stg_service_catalogue VALUES ('S1', 'Service', 'AG1', 'Dept', NULL, NULL, "
                "['online', 'phone', 'paper'], NULL, NULL)")
    # April's return says the service offered online and phone then; May's says nothing (the catalogue's apply)
    con.execute("""INSERT INTO stg_transactions BY NAME
        SELECT service_id, month, month AS period_start, last_day(month) AS period_end, 'month' AS grain, channel,
            completed AS transactions_completed, 'AG1' AS agency_id, 'f.csv' AS source_file, 1 AS source_row,
            offered AS channels_offered
        FROM (VALUES ('S1', DATE '2024-04-01', 'online', 10, ['online', 'phone']),
                     ('S1', DATE '2024-04-01', 'phone', 5, ['online', 'phone']),
                     ('S1', DATE '2024-05-01', 'online', 8, NULL), ('S1', DATE '2024-05-01', 'phone', 2, NULL))
            AS sent (service_id, month, channel, completed, offered)""")
    for table in ("fct_service_month_channel", "fct_service_month"):
        build_months(con, CATALOGUE[table], dt.date(2024, 4, 1), dt.date(2024, 6, 1))
    build_table(con, CATALOGUE["kpi_digital_take_up"])
    assert con.execute("SELECT month, channel, transactions_completed FROM fct_service_month_channel "
                       "ORDER BY 1, 2").fetchall() == [
        (dt.date(2024, 4, 1), "online", 10), (dt.date(2024, 4, 1), "phone", 5),
        (dt.date(2024, 5, 1), "online", 8), (dt.date(2024, 5, 1), "paper", None), (dt.date(2024, 5, 1), "phone", 2)]
    assert con.execute("SELECT month, transactions_completed, digital_take_up_rate, missing_inputs "
                       "FROM kpi_digital_take_up ORDER BY 1").fetchall() == [
        (dt.date(2024, 4, 1), 15, 10 / 15, None), (dt.date(2024, 5, 1), None, None, "volume not provided: paper")]


@pytest.mark.parametrize("month", sorted(YEARS))
def test_the_preview_of_each_year_counts_what_the_raw_file_holds(month, capsys):
    from pipelines.__main__ import main
    from pipelines.lib.config import load_config
    from pipelines.preview import preview_file

    year = YEARS[month]
    with (FIXTURE / f"{year}_services.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # a row whose every channel cell is not applicable is set aside by name; the others are the year's services
    none = [i for i, row in enumerate(rows, 1)
            if all(row[c] in NOT_APPLICABLE for columns in COLUMNS.values() for c in columns if c in row)]
    services = sorted(row["service_id"] for i, row in enumerate(rows, 1) if i not in none)
    take_up = {s for (s, _), (_, _, rate) in expected(year).items() if rate is not None}
    found = preview_file(load_config(CONFIG), "two_year_inventory", FIXTURE / f"{year}_services.csv",
                         dt.date.fromisoformat(f"{month}-01"))
    assert (found.rows_read, found.rows_accepted, found.rows_quarantined) == (
        len(rows), len(rows) - len(none), len(none))
    assert [(q.row_number, q.service_id, q.period, q.rule, q.column_name, q.offending_value)
            for q in found.quarantined] == [(i, rows[i - 1]["service_id"], year, "no_channel_offered", "channel",
                                              "none: every channel is marked not applicable") for i in none]
    assert found.services == services
    assert found.periods == [f"{year[:5]}{year[-2:]}"]
    assert {o.service_id: next(k.periods_formed for k in o.kpis if k.kpi == "digital_take_up")
            for o in found.outcomes} == {s: int(s in take_up) for s in services}
    assert [(g.kpi, g.services_affected, g.services) for g in found.gaps] == [
        ("completion_rate", len(services), len(services)), ("cost_per_transaction", len(services), len(services))]
    assert found.suspicious == [] and found.publishes
    code = main(["preview", "two_year_inventory", str(FIXTURE / f"{year}_services.csv"), "--month", month,
                 "--config-dir", str(CONFIG)])
    out = capsys.readouterr().out
    assert (code, out.splitlines()[-1]) == (0, "KPI figures would be published")
    assert f"rows: {len(rows)} read, {len(rows) - len(none)} accepted, {len(none)} quarantined\n" in out
    assert f"  digital_take_up: {len(take_up)} of {len(services)}\n" in out
    if none:
        assert f"  transactions no_channel_offered: {len(none)} row{'s' * (len(none) != 1)} (every channel" in out


def test_the_preview_of_a_mapping_without_the_channels_offered_says_nothing_would_be_published(tmp_path, capsys):
    from pipelines.__main__ import main

    shutil.copytree(CONFIG, tmp_path / "config")
    mapping = tmp_path / "config" / "mappings" / "two_year_inventory.yaml"
    text = mapping.read_text(encoding="utf-8")
    start = text.index("    channels_offered:")
    mapping.write_text(text[:start] + text[text.index("  costs:"):], encoding="utf-8")
    with (FIXTURE / "2023-2024_services.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    accepted = sum(not all(row[c] in NOT_APPLICABLE for columns in COLUMNS.values() for c in columns)
                   for row in rows)
    code = main(["preview", "two_year_inventory", str(FIXTURE / "2023-2024_services.csv"), "--month", "2024-03",
                 "--config-dir", str(tmp_path / "config")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[-2:] == [
        f"warning: digital_take_up cannot be formed for {accepted} of {accepted} services of two_year_inventory "
        "(not provided: a total (the channels the service offers are not known)): declare the channels offered in "
        "the mapping or the catalogue",
        f"no KPI figure would be published (the volumes of the {accepted} rows accepted would be)"]


def test_a_run_without_the_channels_offered_is_not_silent(tmp_path):
    # the README-only configuration of issue 23: rows accepted, no take-up formed; the run's summary, the published
    # kpis_not_formed (the data-quality page's table) and the preview say so, naming the source, KPI, count and fix
    root = tmp_path
    (root / "home").mkdir()
    shutil.copytree(CONFIG, root / "config")
    mapping = root / "config" / "mappings" / "two_year_inventory.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text[:text.index("    channels_offered:")] + text[text.index("  costs:"):], encoding="utf-8")
    services = set()
    for month, year in YEARS.items():
        land(root, month)
        with (FIXTURE / f"{year}_services.csv").open(newline="", encoding="utf-8") as f:
            services |= {row["service_id"] for row in csv.DictReader(f)
                         if not all(row[c] in NOT_APPLICABLE for cs in COLUMNS.values() for c in cs if c in row)}
    env = {**os.environ, "PIPELINE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home"),
           "PIPELINE_CONFIG_DIR": str(root / "config"), "GX_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "monthly_cycle 2023-03 to 2024-03: succeeded" in done.stdout, done.stdout + done.stderr[-3000:]
    n = len(services)
    reason, fix = ("not provided: a total (the channels the service offers are not known)",
                   "declare the channels offered in the mapping or the catalogue")
    assert (f"\nwarning: two_year_inventory: digital_take_up could not be formed for {n} of its {n} services "
            f"({reason}); to fix: {fix}\n") in done.stdout
    published = root / "data" / "published"
    assert duckdb.execute("SELECT services_affected, services, reason, fix FROM read_parquet(?) "
                          "WHERE agency_id = 'two_year_inventory' AND kpi = 'digital_take_up'",
                          [str(published / "kpis_not_formed.parquet")]).fetchall() == [(n, n, reason, fix)]
    assert duckdb.execute("SELECT count(*), count(digital_take_up_rate) FROM read_parquet(?) WHERE channel = 'all'",
                          [str(published / "kpi_by_period.parquet")]).fetchall() == [(
        len(expected("2022-2023")) + len(expected("2023-2024")), 0)]  # fetchall: fetchone leaves DuckDB's shared
    # default connection with an unfinished result, and the next test in this process to use it fails
