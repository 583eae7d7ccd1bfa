"""Bad submissions, one kind per case: each is quarantined by file, row and rule, and nothing else changes.

Every case damages one agency's return for November 2025 in a copy of the built data. Cases that damage different
files share a run (each agency's file at most once a run, so a case's quarantine rows are its file's alone): the
month is run again (every agency, up to the KPI tables), and each case checks its file's quarantine rows and that
the KPI rows of every agency its run did not damage, and of every month but November, are exactly as before
(publishing copies them unchanged: test_pipeline checks that). Three runs hold the seventeen one-file cases; the
cases with checks of their own share two more. HTTP failures (500 then success, timeouts, 401, endless pages) are
in test_http_connector.py and test_onboarding.py; a registry location with `../` and an agency name with SQL in it
in test_onboarding.py.
"""

import io
import os
import shutil
from collections.abc import Callable
from typing import NamedTuple

import dagster as dg
import polars as pl
import pytest
import xlsxwriter

from pipelines.lib.resources import DataStore
from tests.conftest import run_graph

MONTH = "2025-11-01"
# The canonical CSV returns of November, each a header and rows of service x channel, none with a seeded defect.
LAND = "land/2025-11/transactions.csv"                # 7 rows, LND-001's channels in rows 1 to 4
REVENUE = "revenue/2025-11/transactions.csv"          # 8 rows, REV-001 first
PASSPORTS = "passports/2025-11/transactions.csv"      # 6 rows, PAS-001 online first
HEALTH = "health/2025-11/transactions.csv"            # 9 rows
ENVIRONMENT = "environment/2025-11/transactions.csv"  # 8 rows
GUARDIAN_TRANSACTIONS, GUARDIAN_COSTS = "guardian/2025-11/transactions.json", "guardian/2025-11/costs.json"
COURTS, CATALOGUE = "courts/2025-11/monthly_return.xlsx", "catalogue/services.csv"
KPIS = ("kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction")


def lines(store, rel=LAND) -> list[str]:
    return (store.landing / rel).read_text().splitlines()


def write(store, text: str | bytes, rel=LAND) -> None:
    path = store.landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def cut_at_first_amount(text: str) -> str:
    """A JSON return cut off where its first amount's value begins."""
    return text[:text.index('"amountGbp": ') + len('"amountGbp": ')]


def replace_cell(store, row: int, column: str, value: str, rel=LAND) -> None:
    """Set one cell (data row `row`, from 1) of a canonical CSV."""
    rows = [line.split(",") for line in lines(store, rel)]
    rows[row][rows[0].index(column)] = value
    write(store, "\n".join(",".join(r) for r in rows) + "\n", rel)


def others(store, agencies: set[str]) -> dict[str, pl.DataFrame]:
    """The KPI rows of every service not of `agencies`, and of every month but November."""
    frames = {}
    with store.connect() as con:
        for table in KPIS:
            frames[table] = con.sql(f"SELECT kpi.* FROM {table} AS kpi JOIN stg_service_catalogue USING (service_id) "
                                    "WHERE NOT list_contains(?, agency_id) OR month <> CAST(? AS DATE) ORDER BY ALL",
                                    params=[sorted(agencies), MONTH]).pl()
    return frames


def quarantined(store, source_file: str, return_type: str = "transactions") -> list[tuple]:
    with store.connect() as con:
        return con.execute("SELECT row_number, rule, offending_value, message FROM quarantine WHERE source_file = ? "
                           "AND return_type = ? ORDER BY row_number NULLS FIRST", [source_file, return_type]).fetchall()


def submit(store, agencies: set[str], everything: bool = False) -> None:
    """Run November again (up to the KPI tables, or `everything` to publish) and check that the figures of nobody
    but `agencies` moved."""
    before = others(store, agencies)
    selection = None if everything else dg.AssetSelection.assets(*KPIS).upstream()
    assert run_graph(store, MONTH, MONTH, selection=selection).success
    after = others(store, agencies)
    for table in KPIS:
        assert after[table].equals(before[table]), table


def agency(file: str) -> str:
    return file.split("/")[0]


@pytest.fixture(scope="module")
def damaged(built, tmp_path_factory) -> Callable[[tuple[str, ...]], DataStore]:
    """A copy of the built data with the cases named damaged together and November run again (once for the
    module: the cases of a run read the same store)."""
    stores = {}

    def run(cases: tuple[str, ...]) -> DataStore:
        if cases not in stores:
            store = DataStore(data_dir=str(tmp_path_factory.mktemp("damaged") / "data"))
            shutil.copytree(built[0].root, store.root)
            for name in cases:
                BAD[name].damage(store)
            submit(store, {agency(BAD[name].file) for name in cases})
            stores[cases] = store
        return stores[cases]
    return run


class Bad(NamedTuple):
    """A bad submission: how the built data is damaged, and then the quarantine rows of `file` as (row_number, rule,
    offending_value, message), each compared on as many fields as it gives."""
    damage: Callable[[DataStore], object]
    expected: list[tuple]
    file: str = LAND
    return_type: str = "transactions"


def land_lines(change: Callable[[list[str]], str | bytes], rel: str = LAND) -> Callable[[DataStore], None]:
    """Damage an agency's November transactions (the land agency's unless told): its lines in, the file's new
    content out."""
    return lambda store: write(store, change(lines(store, rel)), rel)


def cell(row: int, column: str, value: str, rel: str = LAND) -> Callable[[DataStore], None]:
    return lambda store: replace_cell(store, row, column, value, rel)


def whole(reason: str) -> list[tuple]:
    return [(None, "unreadable_file", reason, f"the file could not be read: {reason}")]


def live_from_december(store) -> None:
    """The catalogue says LND-001 starts in December 2025, after the month of its rows."""
    rows = lines(store, CATALOGUE)
    write(store, "\n".join([rows[0] + ",live_from"] + [r + (",2025-12-01" if r.startswith("LND-001,") else ",")
                                                         for r in rows[1:]]) + "\n", CATALOGUE)


def merged_header_cells(store) -> None:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Transactions")
    sheet.merge_range(0, 0, 0, 1, "Service code and period")
    sheet.write_row(0, 2, ["Total completed", "Online", "Telephone", "Face to face", "Post", "Assisted digital",
                           "Other"])
    sheet.write_row(1, 0, ["CRT-001", "Nov 2025", 10, 10, "N/A", "N/A", "N/A", "N/A", "N/A"])
    book.close()
    write(store, buffer.getvalue(), COURTS)


# Each case in the return of its own agency: the cases of one run (RUNS) damage different files.
BAD = {
    "empty file": Bad(lambda store: write(store, b"", REVENUE), whole("the file is empty"), REVENUE),
    "header only": Bad(land_lines(lambda rows: rows[0] + "\n", PASSPORTS),
                       whole("the file has a header but no rows"), PASSPORTS),
    "truncated last line": Bad(
        land_lines(lambda rows: "\n".join(rows[:-1] + [rows[-1][:12]])),  # no newline, cut mid-field
        [(7, "wrong_number_of_fields", "2 fields where the header has 5",
          "the row has the wrong number of fields (a truncated or mis-delimited line)")]),
    "wrong delimiter": Bad(
        land_lines(lambda rows: "\n".join([rows[0]] + [r.replace(",", ";") for r in rows[1:]]) + "\n", HEALTH),
        [(n, "wrong_number_of_fields", "1 fields where the header has 5") for n in range(1, 10)], HEALTH),
    "undeclared encoding": Bad(
        land_lines(lambda rows: f"{rows[0]}\nLND-001,2025-11-01,online,1,1 caf\xe9\n".encode("cp1252"), ENVIRONMENT),
        whole("the file is not utf-8 (byte 102: b'\\xe9'); declare its encoding in the agency's mapping, e.g. "
              "encoding: cp1252"), ENVIRONMENT),
    "JSON that is not a list": Bad(lambda store: write(store, '{"serviceId": "OPG-001", "completed": 12}',
                                                       GUARDIAN_TRANSACTIONS),
                                   whole("the JSON is not a list of records (objects)"), GUARDIAN_TRANSACTIONS),
    # cut short in the first record's first amount, whose place does not depend on the example figures
    "malformed JSON": Bad(lambda store: write(store, cut_at_first_amount((store.landing / GUARDIAN_COSTS).read_text()),
                                              GUARDIAN_COSTS),
                          whole("JSONDecodeError: Expecting value: line 7 column 16 (char 122)"), GUARDIAN_COSTS,
                          "costs"),
    "XLSX with merged header cells": Bad(merged_header_cells, whole("1 header cell(s) are empty or merged; put one "
                                                                    "column name in each cell of the first row"),
                                         COURTS),
    "missing required column": Bad(
        land_lines(lambda rows: "\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != 2) for r in rows)
                   + "\n", REVENUE),
        whole("missing required column(s): channel"), REVENUE),
    "duplicate key within a file": Bad(land_lines(lambda rows: "\n".join(rows + [rows[1]]) + "\n", PASSPORTS),
                                       [(7, "duplicate_row", "PAS-001 month 2025-11-01 online")], PASSPORTS),
    "text in a numeric field": Bad(cell(2, "transactions_completed", "12a"), [(2, "not_a_number", "12a")]),
    "negative count": Bad(cell(1, "transactions_started", "-40", HEALTH), [(1, "negative_count", "-40")], HEALTH),
    "date in the future": Bad(cell(3, "month", "2030-01-01", ENVIRONMENT),
                              [(3, "month_outside_return_period", "2030-01-01")], ENVIRONMENT),
    "date before the service existed": Bad(live_from_december,
                                           [(n, "before_service_existed", "2025-11-01") for n in range(1, 5)]),
    "unknown service": Bad(cell(1, "service_id", "REV-999", REVENUE), [(1, "unknown_service", "REV-999")], REVENUE),
    "unknown channel": Bad(cell(1, "channel", "fax", PASSPORTS), [(1, "unknown_channel", "fax")], PASSPORTS),
    "service of another agency": Bad(cell(1, "service_id", "REV-001", HEALTH),
                                     [(1, "service_of_another_agency", "REV-001")], HEALTH),
}
RUNS = (tuple(BAD)[:8], tuple(BAD)[8:13], tuple(BAD)[13:])


def test_the_cases_of_a_run_damage_different_files_and_every_case_is_run():
    assert sorted(name for run in RUNS for name in run) == sorted(BAD)
    for run in RUNS:
        files = [BAD[name].file for name in run]
        assert len(set(files)) == len(files), run


@pytest.mark.parametrize("name", BAD)
def test_a_bad_file_is_quarantined_by_row_and_rule_and_nothing_else_changes(damaged, name):
    bad = BAD[name]
    store = damaged(next(run for run in RUNS if name in run))  # its run checked that nothing else changed
    found = quarantined(store, bad.file, bad.return_type)
    assert [row[:len(want)] for row, want in zip(found, bad.expected)] == bad.expected
    assert len(found) == len(bad.expected)


def extra_column(store) -> None:
    rows = lines(store, PASSPORTS)
    write(store, "\n".join([rows[0] + ",comment"] + [r + ",ok" for r in rows[1:]]) + "\n", PASSPORTS)


DRAFT = "land/2025-11/old/transactions.csv"


def draft_in_a_subfolder(store) -> None:
    write(store, (store.landing / LAND).read_bytes(), DRAFT)  # the same keys: read, it would clash with the return


def name_not_utf8(store) -> None:
    with open(os.fsencode(store.landing / "land" / "2025-11") + b"/r\xe9turn.csv", "wb") as latin1_name:
        latin1_name.write((store.landing / LAND).read_bytes())


def link_out_of_landing(store) -> None:
    secret = store.root.parent / "outside.csv"
    secret.write_text("not for the pipeline\n")
    os.symlink(secret, store.landing / "land/2025-11/escape.csv")


def formula_cells(store) -> None:
    replace_cell(store, 1, "service_id", "=HYPERLINK(\"http://example.invalid\")", HEALTH)
    replace_cell(store, 2, "channel", "@SUM(A1)", HEALTH)
    replace_cell(store, 3, "transactions_started", "+SUM(1)", HEALTH)


def many_bad_rows(store) -> None:
    sent = lines(store, ENVIRONMENT)
    service = sent[1].split(",")[0]
    unknown = [f"NOT-{i},2025-11-01,online,2,1" for i in range(100_000)]
    fax = [f"{service},2025-11-01,fax,2,1"] * 3
    write(store, "\n".join([*sent, *unknown, *fax]) + "\n", ENVIRONMENT)


@pytest.fixture(scope="module")
def cases_of_their_own(built, tmp_path_factory) -> tuple[DataStore, dict[str, list[str]]]:
    """The cases with checks of their own, each in its agency's November (land's three beside its return, which
    stays as sent) and run twice: first with the revenue return empty, then corrected and everything published.
    (the store, each damaged return's lines as sent)."""
    store = DataStore(data_dir=str(tmp_path_factory.mktemp("own") / "data"))
    shutil.copytree(built[0].root, store.root)
    sent = {rel: lines(store, rel) for rel in (PASSPORTS, ENVIRONMENT)}
    good = (store.landing / REVENUE).read_bytes()
    for damage in (extra_column, draft_in_a_subfolder, name_not_utf8, link_out_of_landing, formula_cells,
                   many_bad_rows):
        damage(store)
    write(store, b"", REVENUE)
    touched = {"passports", "land", "health", "environment", "revenue"}
    submit(store, touched)
    write(store, good, REVENUE)
    submit(store, touched, everything=True)
    return store, sent


def test_extra_columns_are_ignored_not_rejected(cases_of_their_own):
    store, sent = cases_of_their_own
    rows = sent[PASSPORTS]
    assert quarantined(store, PASSPORTS) == []
    with store.connect() as con:
        # the version replaced by this one is accounted for as superseded, with no rows of its own
        assert con.execute("SELECT file_status, rows_read, rows_accepted FROM submission_accounting "
                           "WHERE source_file = ? ORDER BY file_status", [PASSPORTS]).fetchall() == [
            ("read", len(rows) - 1, len(rows) - 1), ("superseded", 0, 0)]


def test_a_draft_in_a_subfolder_of_the_month_is_accounted_for_and_never_read_as_a_return(cases_of_their_own):
    store, _ = cases_of_their_own
    assert quarantined(store, LAND) == []
    assert quarantined(store, DRAFT, "not_recognised") == [
        (None, "file_in_a_subfolder", "old", "subfolders of a month folder are not read: move the file to "
         "data/landing/land/2025-11/ if it is a return, or out of data/landing/ if it is not (a draft, an old copy)")]
    with store.connect() as con:
        assert con.execute("SELECT return_type, file_status, rows_read FROM submission_accounting "
                           "WHERE source_file = ?", [DRAFT]).fetchall() == [("not_recognised", "not_recognised", 0)]
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path = ?", [DRAFT]).fetchone() == (0,)


def test_a_file_name_that_is_not_utf8_is_quarantined_by_its_escaped_name_and_the_rest_publishes(cases_of_their_own):
    store, _ = cases_of_their_own
    published = pl.read_csv(store.published / "quarantine.csv", infer_schema_length=0)
    assert published.filter(pl.col("rule") == "name_not_utf8").select("return_type", "source_file").rows() == [
        ("landing", "land/2025-11/r\\xe9turn.csv")]
    assert quarantined(store, LAND) == []


def test_link_out_of_the_landing_folder_is_never_read(cases_of_their_own):
    store, _ = cases_of_their_own
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path LIKE '%escape%'").fetchall() == [
            (0,)]


def test_cells_that_start_a_formula_never_reach_published_csv_as_formulas(cases_of_their_own):
    store, _ = cases_of_their_own
    assert [r[1] for r in quarantined(store, HEALTH)] == ["unknown_service", "unknown_channel", "not_a_number"]
    published = (store.published / "quarantine.csv").read_text()
    cells = [cell for line in published.splitlines() for cell in line.split(",")]
    assert not [c for c in cells if c.startswith(("=", "+", "@", '"=', '"+', '"@'))]
    assert "'=HYPERLINK" in published and "'@SUM(A1)" in published


def test_a_corrected_return_replaces_a_bad_one(cases_of_their_own):
    store, _ = cases_of_their_own
    assert quarantined(store, REVENUE) == []


def test_a_file_of_many_bad_rows_lists_the_first_thousand_of_each_rule_and_counts_them_all(cases_of_their_own):
    store, sent = cases_of_their_own
    sent = sent[ENVIRONMENT]
    rows = quarantined(store, ENVIRONMENT)
    first = len(sent)  # the row number of the first unknown service
    assert [r[:3] for r in rows] == [(first + i, "unknown_service", f"NOT-{i}") for i in range(1_001)] + [
        (first + 100_000 + i, "unknown_channel", "fax") for i in range(3)]
    assert {r[3] for r in rows[:1_000]} == {"service_id is not in the service catalogue"}
    assert rows[1_000][3] == ("99000 more rows of this file broke this rule, this one and those after it; only the "
                              "first 1000 are listed (files.max_quarantine_rows_per_rule), and submission_accounting "
                              "counts them all")
    with store.connect() as con:
        assert con.execute("SELECT rows_read, rows_accepted, rows_quarantined FROM submission_accounting "
                           "WHERE source_file = ? AND return_type = 'transactions'", [ENVIRONMENT]).fetchall() == [
            (len(sent) - 1 + 100_003, len(sent) - 1, 100_003)]
        assert con.execute("SELECT rule, count(*), sum(rows_represented) FROM quarantine WHERE source_file = ? "
                           "GROUP BY rule ORDER BY rule", [ENVIRONMENT]).fetchall() == [
            ("unknown_channel", 3, 3), ("unknown_service", 1_001, 100_000)]
