"""Bad submissions, one kind per test: each is quarantined by file, row and rule, and nothing else changes.

Every case damages one agency's return for November 2025 in a copy of the built data, runs the month again
(every agency, up to the KPI tables), and checks the quarantine and that the KPI rows of every other agency and
month are exactly as before (publishing copies them unchanged: test_pipeline checks that). HTTP failures (500 then
success, timeouts, 401, endless pages) are in test_http_connector.py and test_onboarding.py; a registry location with
`../` and an agency name with SQL in it in test_onboarding.py.
"""

import io
import os

import dagster as dg
import polars as pl
import xlsxwriter

from tests.conftest import run_graph

MONTH = "2025-11-01"
LAND = "land/2025-11/transactions.csv"
KPIS = ("kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction")


def lines(store, rel=LAND) -> list[str]:
    return (store.landing / rel).read_text().splitlines()


def write(store, text: str | bytes, rel=LAND) -> None:
    path = store.landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def replace_cell(store, row: int, column: str, value: str, rel=LAND) -> None:
    """Set one cell (data row `row`, from 1) of a canonical CSV."""
    rows = [line.split(",") for line in lines(store, rel)]
    rows[row][rows[0].index(column)] = value
    write(store, "\n".join(",".join(r) for r in rows) + "\n", rel)


def others(store, agency: str) -> dict[str, pl.DataFrame]:
    """The KPI rows of every service not of `agency`, and of every month but November."""
    frames = {}
    with store.connect() as con:
        for table in KPIS:
            frames[table] = con.sql(f"SELECT kpi.* FROM {table} AS kpi JOIN stg_service_catalogue USING (service_id) "
                                    "WHERE agency_id <> ? OR month <> CAST(? AS DATE) ORDER BY ALL",
                                    params=[agency, MONTH]).pl()
    return frames


def quarantined(store, source_file: str, return_type: str = "transactions") -> list[tuple]:
    with store.connect() as con:
        return con.execute("SELECT row_number, rule, offending_value, message FROM quarantine WHERE source_file = ? "
                           "AND return_type = ? ORDER BY row_number NULLS FIRST", [source_file, return_type]).fetchall()


def submit(store, agency: str, everything: bool = False) -> None:
    """Run November again (up to the KPI tables, or `everything` to publish) and check that nobody else's
    figures moved."""
    before = others(store, agency)
    selection = None if everything else dg.AssetSelection.assets(*KPIS).upstream()
    assert run_graph(store, MONTH, MONTH, selection=selection).success
    after = others(store, agency)
    for table in KPIS:
        assert after[table].equals(before[table]), table


def test_empty_file(copied):
    store, _ = copied
    write(store, b"")
    submit(store, "land")
    assert [r[:2] for r in quarantined(store, LAND)] == [(None, "unreadable_file")]
    assert "the file is empty" in quarantined(store, LAND)[0][3]


def test_header_only(copied):
    store, _ = copied
    write(store, lines(store)[0] + "\n")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(None, "unreadable_file", "the file has a header but no rows")]


def test_truncated_last_line(copied):
    store, _ = copied
    rows = lines(store)
    write(store, "\n".join(rows[:-1] + [rows[-1][:12]]))  # no newline, cut mid-field
    submit(store, "land")
    assert quarantined(store, LAND) == [(len(rows) - 1, "wrong_number_of_fields",
                                         "2 fields where the header has 5",
                                         "the row has the wrong number of fields (a truncated or mis-delimited line)")]


def test_wrong_delimiter(copied):
    store, _ = copied
    rows = lines(store)
    write(store, "\n".join([rows[0]] + [r.replace(",", ";") for r in rows[1:]]) + "\n")
    submit(store, "land")
    found = quarantined(store, LAND)
    assert [r[:2] for r in found] == [(n, "wrong_number_of_fields") for n in range(1, len(rows))]


def test_undeclared_encoding(copied):
    store, _ = copied
    write(store, (lines(store)[0] + "\nLND-001,2025-11-01,online,1,1 caf\xe9\n").encode("cp1252"))
    submit(store, "land")
    [(row, rule, _, message)] = quarantined(store, LAND)
    assert (row, rule) == (None, "unreadable_file")
    assert "not utf-8" in message and "encoding: cp1252" in message


def test_missing_required_column(copied):
    store, _ = copied
    write(store, "\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != 2) for r in lines(store)) + "\n")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [
        (None, "unreadable_file", "missing required column(s): channel")]


def test_extra_columns_are_ignored_not_rejected(copied):
    store, _ = copied
    rows = lines(store)
    write(store, "\n".join([rows[0] + ",comment"] + [r + ",ok" for r in rows[1:]]) + "\n")
    submit(store, "land")
    assert quarantined(store, LAND) == []
    with store.connect() as con:
        # the version replaced by this one is accounted for as superseded, with no rows of its own
        assert con.execute("SELECT file_status, rows_read, rows_accepted FROM submission_accounting "
                           "WHERE source_file = ? ORDER BY file_status", [LAND]).fetchall() == [
            ("read", len(rows) - 1, len(rows) - 1), ("superseded", 0, 0)]


def test_duplicate_key_within_a_file(copied):
    store, _ = copied
    rows = lines(store)
    write(store, "\n".join(rows + [rows[1]]) + "\n")
    submit(store, "land")
    assert [r[:2] for r in quarantined(store, LAND)] == [(len(rows), "duplicate_row")]


def test_a_draft_in_a_subfolder_of_the_month_is_accounted_for_and_never_read_as_a_return(copied):
    store, _ = copied
    draft = "land/2025-11/old/transactions.csv"
    write(store, (store.landing / LAND).read_bytes(), draft)  # the same keys: read, it would clash with the return
    submit(store, "land")
    assert quarantined(store, LAND) == []
    assert quarantined(store, draft, "not_recognised") == [
        (None, "file_in_a_subfolder", "old", "subfolders of a month folder are not read: move the file to "
         "data/landing/land/2025-11/ if it is a return, or out of data/landing/ if it is not (a draft, an old copy)")]
    with store.connect() as con:
        assert con.execute("SELECT return_type, file_status, rows_read FROM submission_accounting "
                           "WHERE source_file = ?", [draft]).fetchall() == [("not_recognised", "not_recognised", 0)]
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path = ?", [draft]).fetchone() == (0,)


def test_a_file_name_that_is_not_utf8_is_quarantined_by_its_escaped_name_and_the_rest_publishes(copied):
    store, _ = copied
    with open(os.fsencode(store.landing / "land" / "2025-11") + b"/r\xe9turn.csv", "wb") as latin1_name:
        latin1_name.write((store.landing / LAND).read_bytes())
    submit(store, "land", everything=True)
    published = pl.read_csv(store.published / "quarantine.csv", infer_schema_length=0)
    assert published.filter(pl.col("rule") == "name_not_utf8").select("return_type", "source_file").rows() == [
        ("landing", "land/2025-11/r\\xe9turn.csv")]
    assert quarantined(store, LAND) == []


def test_text_in_a_numeric_field(copied):
    store, _ = copied
    replace_cell(store, 2, "transactions_completed", "12a")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(2, "not_a_number", "12a")]


def test_negative_count(copied):
    store, _ = copied
    replace_cell(store, 1, "transactions_started", "-40")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(1, "negative_count", "-40")]


def test_date_in_the_future(copied):
    store, _ = copied
    replace_cell(store, 3, "month", "2030-01-01")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(3, "month_outside_return_period", "2030-01-01")]


def test_date_before_the_service_existed(copied):
    store, _ = copied
    catalogue = "catalogue/services.csv"
    rows = lines(store, catalogue)
    write(store, "\n".join([rows[0] + ",live_from"] + [r + (",2025-12-01" if r.startswith("LND-001,") else ",")
                                                        for r in rows[1:]]) + "\n", catalogue)
    submit(store, "land")
    land_001 = [n for n, r in enumerate(lines(store)[1:], 1) if r.startswith("LND-001,")]
    assert [r[:2] for r in quarantined(store, LAND)] == [(n, "before_service_existed") for n in land_001]


def test_unknown_service(copied):
    store, _ = copied
    replace_cell(store, 1, "service_id", "LND-999")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(1, "unknown_service", "LND-999")]


def test_unknown_channel(copied):
    store, _ = copied
    replace_cell(store, 1, "channel", "fax")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(1, "unknown_channel", "fax")]


def test_service_of_another_agency(copied):
    store, _ = copied
    replace_cell(store, 1, "service_id", "REV-001")
    submit(store, "land")
    assert [r[:3] for r in quarantined(store, LAND)] == [(1, "service_of_another_agency", "REV-001")]


def test_json_that_is_not_a_list(copied):
    store, _ = copied
    rel = "guardian/2025-11/transactions.json"
    write(store, '{"serviceId": "OPG-001", "completed": 12}', rel)
    submit(store, "guardian")
    assert [r[:3] for r in quarantined(store, rel)] == [
        (None, "unreadable_file", "the JSON is not a list of records (objects)")]


def test_malformed_json(copied):
    store, _ = copied
    rel = "guardian/2025-11/costs.json"
    write(store, (store.landing / rel).read_text()[:-40], rel)
    submit(store, "guardian")
    [(row, rule, value, _)] = quarantined(store, rel, "costs")
    assert (row, rule) == (None, "unreadable_file") and value.startswith("JSONDecodeError")


def test_xlsx_with_merged_header_cells(copied):
    store, _ = copied
    rel = "courts/2025-11/monthly_return.xlsx"
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Transactions")
    sheet.merge_range(0, 0, 0, 1, "Service code and period")
    sheet.write_row(0, 2, ["Total completed", "Online", "Telephone", "Face to face", "Post", "Assisted digital",
                           "Other"])
    sheet.write_row(1, 0, ["CRT-001", "Nov 2025", 10, 10, "N/A", "N/A", "N/A", "N/A", "N/A"])
    book.close()
    write(store, buffer.getvalue(), rel)
    submit(store, "courts")
    found = quarantined(store, rel)
    assert (found[0][0], found[0][1]) == (None, "unreadable_file")
    assert "1 header cell(s) are empty or merged" in found[0][2]


def test_link_out_of_the_landing_folder_is_never_read(copied, tmp_path):
    store, _ = copied
    secret = tmp_path / "outside.csv"
    secret.write_text("not for the pipeline\n")
    os.symlink(secret, store.landing / "land/2025-11/escape.csv")
    submit(store, "land")
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path LIKE '%escape%'").fetchall() == [
            (0,)]


def test_cells_that_start_a_formula_never_reach_published_csv_as_formulas(copied):
    store, _ = copied
    replace_cell(store, 1, "service_id", "=HYPERLINK(\"http://example.invalid\")")
    replace_cell(store, 2, "channel", "@SUM(A1)")
    replace_cell(store, 3, "transactions_started", "+SUM(1)")
    submit(store, "land", everything=True)
    assert [r[1] for r in quarantined(store, LAND)] == ["unknown_service", "unknown_channel", "not_a_number"]
    published = (store.published / "quarantine.csv").read_text()
    cells = [cell for line in published.splitlines() for cell in line.split(",")]
    assert not [c for c in cells if c.startswith(("=", "+", "@", '"=', '"+', '"@'))]
    assert "'=HYPERLINK" in published and "'@SUM(A1)" in published


def test_a_corrected_return_replaces_a_bad_one(copied):
    store, _ = copied
    good = (store.landing / LAND).read_bytes()
    write(store, b"")
    submit(store, "land")
    write(store, good)
    submit(store, "land")
    assert quarantined(store, LAND) == []
