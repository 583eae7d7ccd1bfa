"""Hostile files, cells, values and links, one class per test, at the level of the function that must hold: each is
refused by a named rule with the row where there is one, in bounded memory, and nothing after it is lost."""

import datetime as dt
import gzip
import io
import os
import re
import zipfile
import zlib

import polars as pl
import pytest
import xlsxwriter

from pipelines.defs.ingestion.assets import month_folder
from pipelines.defs.staging.readers import ParseError, read_table
from pipelines.lib.config.limits import FileLimits
from pipelines.lib.files import inside, scan_landing
from pipelines.lib.resources import DataStore
from transforms import periods
from transforms.layouts import header_columns
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.reference import validate_benefits
from transforms.staging import FILE, LayoutError, normalise, validate

HEADER = "service_id,month,channel,transactions_started,transactions_completed"
CATALOGUE = pl.DataFrame({"service_id": ["S1", "S2"], "agency_id": ["AG1", "AG1"],
                          "channels_offered": [["online", "phone"], ["online", "phone"]]})


def refused(tmp_path, name: str, data: bytes, limits: FileLimits | None = None) -> ParseError:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ParseError) as raised:
        read_table(path, limits=limits)
    return raised.value


def staged(tmp_path, text: str, return_type: str = "transactions", catalogue: pl.DataFrame = CATALOGUE,
           **ceilings) -> tuple[list, list]:
    path = tmp_path / "t.csv"
    path.write_text(text)
    frame = read_table(path).with_columns(pl.lit("t.csv").alias(FILE))
    accepted, quarantined = validate(normalise(frame, AS_SENT, return_type), return_type, "AG1", "2025-01-01",
                                     catalogue,
                                     **ceilings)
    return accepted.rows(named=True), quarantined.select("row_number", "rule", "offending_value").rows()


def zeros_gzip(size: int) -> bytes:
    packer, out, block = zlib.compressobj(9, zlib.DEFLATED, 31), [], b"0" * (1 << 20)
    for _ in range(size >> 20):
        out.append(packer.compress(block))
    return b"".join(out) + packer.flush()


def test_a_gzip_bomb_is_refused_by_its_ratio_before_it_is_unpacked(tmp_path):
    bomb = zeros_gzip(1 << 30)  # 1 GiB of zeros in about 1 MB
    error = refused(tmp_path, "t.csv.gz", bomb, FileLimits(max_decompressed_bytes=1 << 30))
    assert (error.rule, str(error)) == ("decompression_limit", "the gzip file decompresses to more than 100 times its "
                                        "size (files.max_compression_ratio): a compression bomb, or raise the limit")


def test_a_gzip_over_the_size_limit_is_refused(tmp_path):
    data = gzip.compress(os.urandom(3 << 20), mtime=0)  # incompressible: the ratio stays near 1
    error = refused(tmp_path, "t.csv.gz", data, FileLimits(max_decompressed_bytes=2 << 20))
    assert error.rule == "decompression_limit" and "more than 2,097,152 bytes" in str(error)


def test_a_truncated_gzip_is_unreadable(tmp_path):
    error = refused(tmp_path, "t.csv.gz", gzip.compress(f"{HEADER}\nS1,2025-01,online,1,1\n".encode())[:-12])
    assert error.rule == "unreadable_file" and "ends before its compressed stream does" in str(error)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    error = refused(tmp_path, "t.csv", f"{HEADER}\n".encode() * 100, FileLimits(max_file_bytes=1000))
    assert (error.rule, str(error)) == ("file_too_large", "the file is 6,900 bytes, over 1,000 (files.max_file_bytes)")


def workbook(dimension: str | None = None, cell_ref: str | None = None, quote: str = '"', sheet_part: str | None = None,
             doctype: bytes = b"", refs: bool = True) -> bytes:
    """A one-sheet workbook with its sheet's <dimension> or a far cell rewritten; `quote` for the sheet's attributes,
    `sheet_part` to move the sheet elsewhere in the archive (its relationship follows), `doctype` put before it,
    `refs` False to leave out the rows' and cells' references (and the dimension)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Transactions")
    sheet.write_row(0, 0, HEADER.split(","))
    sheet.write_row(1, 0, ["S1", "2025-01", "online", 3, 2])
    book.close()
    parts = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for part in parts.infolist():
            content, name = parts.read(part), part.filename
            if name == "xl/worksheets/sheet1.xml":
                if dimension:
                    content = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="{dimension}"/>'.encode(), content)
                if cell_ref:
                    content = content.replace(b"</sheetData>", f'<row r="{cell_ref[3:]}"><c r="{cell_ref}" t="n">'
                                              f'<v>1</v></c></row></sheetData>'.encode())
                if not refs:
                    content = re.sub(rb'<dimension ref="[^"]*"/>| r="[A-Z]*\d+"', b"", content)
                content = content.replace(b'"', quote.encode())
                content = content.replace(b"?>", b"?>" + doctype, 1)
                name = sheet_part or name
            elif sheet_part and name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                moved = sheet_part.removeprefix("xl/").encode()
                content = content.replace(b"worksheets/sheet1.xml", moved)
            rewritten.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize("dimension, cell_ref, quote, sheet_part, spans", [
    ("A1:XFD1048576", None, '"', None, "1,048,576 rows x 16,384 columns"),  # the 1.6 KB workbook that aborted
    (None, "XFD1048576", '"', None, "1,048,576 rows x 16,384 columns"),  # one cell far away, no dimension declared
    ("A1:XFD1048576", None, "'", None, "1,048,576 rows x 16,384 columns"),  # attributes in single quotes
    ("A1:XFD1048576", None, '"', "xl/data/sheet1.xml", "1,048,576 rows x 16,384 columns"),  # where its link points
    (None, "XFD1048576", "'", "xl/data/sheet1.xml", "1,048,576 rows x 16,384 columns"),
], ids=["declared", "used", "single_quoted", "relocated", "used_single_quoted_relocated"])
def test_an_xlsx_declaring_or_using_a_huge_sheet_is_refused_unparsed(tmp_path, dimension, cell_ref, quote,
                                                                     sheet_part, spans):
    data = workbook(dimension, cell_ref, quote, sheet_part)
    assert len(data) < 10_000
    assert (sheet_part or "xl/worksheets/sheet1.xml") in zipfile.ZipFile(io.BytesIO(data)).namelist()
    error = refused(tmp_path, "t.xlsx", data)
    assert error.rule == "sheet_too_large"
    assert str(error) == f"the sheet 'Transactions' spans {spans}, over 20,000,000 cells (files.max_sheet_cells)"


def test_an_xlsx_whose_cells_carry_no_reference_is_measured_by_position(tmp_path):
    data = workbook(quote="'", sheet_part="xl/data/sheet1.xml", refs=False)
    error = refused(tmp_path, "t.xlsx", data, FileLimits(max_sheet_cells=9))  # two rows of five cells
    assert (error.rule, str(error)) == ("sheet_too_large", "the sheet 'Transactions' spans 2 rows x 5 columns, "
                                                           "over 9 cells (files.max_sheet_cells)")


def test_an_xlsx_sheet_declaring_entities_is_unreadable_not_expanded(tmp_path):
    laughs = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    error = refused(tmp_path, "t.xlsx", workbook(doctype=laughs))
    assert error.rule == "unreadable_file"
    assert str(error) == ("not a readable XLSX file: xl/worksheets/sheet1.xml: it declares a document type "
                          "(worksheet), which an XLSX part never does")


def test_a_small_xlsx_in_single_quotes_elsewhere_in_the_archive_is_read(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_bytes(workbook(quote="'", sheet_part="xl/data/sheet1.xml"))
    assert read_table(path).rows() == [(1, "S1", "2025-01", "online", "3", "2")]


def test_an_xlsx_part_that_is_a_compression_bomb_is_refused(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/sharedStrings.xml", b" " * (64 << 20))
    error = refused(tmp_path, "t.xlsx", out.getvalue())
    assert error.rule == "decompression_limit" and "'xl/sharedStrings.xml'" in str(error)


def test_too_many_columns_or_rows_are_refused_by_name(tmp_path):
    wide = ",".join(f"c{i}" for i in range(20)) + "\n" + ",".join("1" * 20) + "\n"
    assert refused(tmp_path, "t.csv", wide.encode(), FileLimits(max_columns=10)).rule == "too_many_columns"
    long = HEADER + "\n" + "S1,2025-01,online,1,1\n" * 11
    assert refused(tmp_path, "u.csv", long.encode(), FileLimits(max_rows=10)).rule == "too_many_rows"


def test_json_nested_beyond_reason_is_unreadable_not_a_crash(tmp_path):
    error = refused(tmp_path, "t.json", b"[" * 100_000 + b"]" * 100_000)
    assert str(error) == "the JSON is nested too deeply to be a list of records"


def test_an_unterminated_quote_is_quarantined_on_its_row_and_swallows_nothing(tmp_path):
    good = [f"S{i},2025-01,online,{10 + i},{i}" for i in range(24)]
    text = "\n".join([HEADER, "S1,2025-02,online,1,1", "S2,2025-02,online,1,1", 'S1,"2025-01,online,5,5', *good])
    path = tmp_path / "t.csv"
    path.write_text(text + "\n")
    frame = read_table(path)
    assert frame.height == 27
    assert frame.row(2, named=True)["_row_shape"] == ("an unterminated quote: the quoted field opened on this row "
                                                      "never closes")
    assert frame.filter(pl.col("_row_number") > 3).select("service_id", "transactions_started").rows() == [
        (f"S{i}", str(10 + i)) for i in range(24)]
    services = pl.DataFrame({"service_id": [f"S{i}" for i in range(24)], "agency_id": "AG1",
                             "channels_offered": [["online"]] * 24})
    accepted, quarantined = staged(tmp_path, text, catalogue=services)
    assert [q[:2] for q in quarantined] == [(1, "month_outside_return_period"), (2, "month_outside_return_period"),
                                            (3, "unterminated_quote")]
    assert [(a["service_id"], a["_row_number"]) for a in accepted] == [(f"S{i}", 4 + i) for i in range(24)]


def test_a_stray_quote_a_long_cell_and_a_ragged_row_are_each_quarantined_on_their_row(tmp_path):
    text = "\n".join([HEADER, 'S1,"2025"-01,online,1,1', f"S1,2025-01,online,{'9' * 200_000},1",
                      "S1,2025-01,phone", "S2,2025-01,phone,3,2"]) + "\n"
    accepted, quarantined = staged(tmp_path, text)
    assert [q[:2] for q in quarantined] == [(1, "stray_quote"), (2, "field_too_long"), (3, "wrong_number_of_fields")]
    assert [(a["service_id"], a["channel"], a["transactions_started"]) for a in accepted] == [("S2", "phone", 3)]


def test_a_quoted_field_may_still_run_over_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('service_id,note\nS1,"two\nlines"\nS2,plain\n')
    assert read_table(path).select("service_id", "note", "_row_number").rows() == [
        ("S1", "two\nlines", 1), ("S2", "plain", 2)]


def test_counts_are_exact_integers_never_floats(tmp_path):
    text = "\n".join([HEADER, "S1,2025-01,online,9007199254740993,9007199254740993",
                      "S2,2025-01,online,9223372036854775807,9223372036854775807", "S1,2025-01,phone,1e3,250.0"])
    accepted, quarantined = staged(tmp_path, text + "\n")
    assert quarantined == []
    assert [(a["transactions_started"], a["transactions_completed"]) for a in accepted] == [
        (9007199254740993, 9007199254740993), (9223372036854775807, 9223372036854775807), (1000, 250)]


def test_counts_with_a_fraction_beyond_nine_places_are_not_whole_numbers(tmp_path):
    text = "\n".join([HEADER, "S1,2025-01,online,5.0000000001,1", "S1,2025-01,phone,4.9999999999999999999,1",
                      "S2,2025-01,online,1.5e-10,1", "S2,2025-01,phone,150e-1,5.000000000000"])
    accepted, quarantined = staged(tmp_path, text + "\n")
    assert quarantined == [(1, "not_a_number", "5.0000000001"), (2, "not_a_number", "4.9999999999999999999"),
                           (3, "not_a_number", "1.5e-10")]
    assert [(a["transactions_started"], a["transactions_completed"]) for a in accepted] == [(15, 5)]


def test_out_of_range_counts_and_overflowing_sums_are_value_out_of_range(tmp_path):
    text = "\n".join([HEADER, "S1,2025-01,online,9223372036854775808,1",
                      "S2,2025-01,online,5000000000000000000,5000000000000000000",
                      "S2,2025-01,phone,5000000000000000000,5000000000000000000",
                      "S1,2025-01,phone,1e40,1"])
    accepted, quarantined = staged(tmp_path, text + "\n")
    assert accepted == []
    assert [q[:3] for q in quarantined] == [(1, "value_out_of_range", "9223372036854775808"),
                                            (2, "value_out_of_range", "5000000000000000000"),
                                            (3, "value_out_of_range", "5000000000000000000"),
                                            (4, "value_out_of_range", "1e40")]
    _, capped = staged(tmp_path, HEADER + "\nS1,2025-01,online,101,100\n", max_count=100)
    assert capped == [(1, "value_out_of_range", "101")]


def test_costs_are_exact_pennies_and_nan_infinity_and_implausible_costs_are_refused_by_name(tmp_path):
    header = "service_id,month,cost_category,channel,cost_gbp"
    text = "\n".join([header, "S1,2025-01,staff,online,0.1", "S1,2025-01,it,online,0.2",
                      "S1,2025-01,other,online,12.345", "S2,2025-01,staff,online,NaN", "S2,2025-01,it,online,inf",
                      "S2,2025-01,other,online,1e20", "S2,2025-01,staff,phone,-Infinity", "S2,2025-01,it,phone,1e3"])
    accepted, quarantined = staged(tmp_path, text + "\n", "costs")
    assert [a["cost_gbp"] for a in accepted] == [0.1, 0.2, 12.34, 1000.0]
    assert [q[:2] for q in quarantined] == [(4, "not_finite"), (5, "not_finite"), (6, "value_out_of_range"),
                                            (7, "not_finite")]


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "Dec 9999"])
def test_periods_a_calendar_cannot_hold_are_not_recognised(tmp_path, month):
    _, quarantined = staged(tmp_path, f"{HEADER}\nS1,{month},online,1,1\n")
    assert quarantined == [(1, "period_not_recognised", month)]


class Counted:
    """A period pattern that counts the cells it is asked to read."""

    def __init__(self, pattern):
        self.pattern, self.calls = pattern, 0

    def fullmatch(self, text):
        self.calls += 1
        return self.pattern.fullmatch(text)


def test_a_cell_longer_than_any_period_is_refused_by_its_length_before_any_pattern_reads_it(tmp_path, monkeypatch):
    counted = [(kind, Counted(pattern)) for kind, pattern in periods.PATTERNS]
    monkeypatch.setattr(periods, "PATTERNS", counted)
    longest = "September 2024 to September 2025"  # the longest period written in full
    assert periods.parse_period(longest) == (dt.date(2024, 9, 1), dt.date(2025, 9, 30), "span")
    read = sum(pattern.calls for _, pattern in counted)
    assert periods.parse_period("to" * 24_000) is None  # 48,000 characters: quadratic for the span patterns
    assert sum(pattern.calls for _, pattern in counted) == read
    cell = "Jan to " * 6_856 + "Jan"  # 47,995 characters
    _, quarantined = staged(tmp_path, f"{HEADER}\nS1,{cell},online,1,1\nS1,2025-01,online,2,2\n")
    assert quarantined == [(1, "not_a_period", cell)]
    assert sum(pattern.calls for _, pattern in counted) == read + 1  # the second row's period, once


def test_a_header_cell_longer_than_any_header_is_not_read_as_a_period_and_a_measure():
    layout = ReturnLayout(file="t.csv", rename={"Service": "service_id"},
                          headers=[{"pattern": "{period} {measure}", "measures": {"Online": "online"}}])
    hostile = "2016-Q1" + " x" * 20_000 + " Online"  # 40,014 characters: a period part no period can be
    frame = pl.DataFrame({"Service": ["S1"], "Jan 2025 Online": ["3"], hostile: ["5"], FILE: ["t.csv"],
                          "_row_number": [1]})
    assert header_columns(frame.columns, layout.headers) == {"Jan 2025 Online": ("Jan 2025", "online", 0)}
    accepted, quarantined = validate(normalise(frame, layout, "transactions"), "transactions", "AG1", "2025-01-01",
                                     CATALOGUE)
    assert accepted.select("service_id", "month", "channel", "transactions_completed").rows() == [
        ("S1", dt.date(2025, 1, 1), "online", 3), ("S1", dt.date(2025, 1, 1), "all", None)]
    assert quarantined.height == 0


def test_a_benefits_register_without_its_columns_is_set_aside_whole():
    with pytest.raises(LayoutError, match="missing required column"):
        validate_benefits(pl.DataFrame({"benefit_id": ["B1"], "title": ["t"]}), ["S1"])


def test_links_loops_and_misnamed_things_in_landing_are_reported_never_followed(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    month = landing / "ag" / "2025-01"
    month.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_text("x\n")
    (month / "transactions.csv").write_text("ok\n")
    (month / "escape.csv").symlink_to(outside / "secret.csv")
    (month / "loop.csv").symlink_to(month / "loop.csv")
    (month / "dir-link").symlink_to(landing / "ag")  # followed, it would be a loop
    (month / "unpacked.csv").mkdir()
    (month / "unpacked.csv" / "inner.csv").write_text("x\n")
    os.mkfifo(month / "pipe.csv")
    files, problems = scan_landing(landing, month)
    assert [f.name for f in files] == ["transactions.csv"]
    assert [(p.path, p.rule) for p in problems] == [
        ("ag/2025-01/dir-link", "link_to_folder"), ("ag/2025-01/escape.csv", "link_outside_landing"),
        ("ag/2025-01/loop.csv", "link_unresolvable"), ("ag/2025-01/pipe.csv", "not_a_regular_file"),
        ("ag/2025-01/unpacked.csv", "folder_named_like_a_file")]
    central = landing / "catalogue" / "services.csv"
    central.parent.mkdir()
    central.symlink_to(outside / "secret.csv")
    assert inside(landing.resolve(), central).rule == "link_outside_landing"


def test_a_file_where_a_month_folder_belongs_is_reported(tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    (store.landing / "ag").mkdir(parents=True)
    (store.landing / "ag" / "2025-01").write_text("not a folder\n")
    import datetime as dt
    files, problems = month_folder(store, "ag", dt.date(2025, 1, 1))
    assert files == [] and [(p.path, p.rule) for p in problems] == [("ag/2025-01", "not_a_folder")]


def test_names_that_are_not_utf8_are_reported_escaped_and_subfolders_are_not_returns(tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    month = store.landing / "ag" / "2025-01"
    (month / "old").mkdir(parents=True)
    (month / "transactions.csv").write_text("ok\n")
    (month / "old" / "transactions.csv").write_text("a draft\n")
    os.mkdir(os.fsencode(month) + b"/\xff")
    with open(os.fsencode(month) + b"/r\xe9turn.csv", "wb") as latin1_name:
        latin1_name.write(b"x\n")
    import datetime as dt
    files, problems = month_folder(store, "ag", dt.date(2025, 1, 1))
    assert [f.relative_to(store.landing).as_posix() for f in files] == ["ag/2025-01/transactions.csv"]
    escaped = "whose name is not UTF-8 text, shown here with its bytes escaped (\\xNN): rename it in UTF-8"
    assert [(p.path, p.rule, p.message) for p in problems] == [
        ("ag/2025-01/\\xff", "name_not_utf8", f"a folder (nothing in it is read) {escaped}"),
        ("ag/2025-01/r\\xe9turn.csv", "name_not_utf8", f"a file (not read) {escaped}")]


def test_limits_are_typed_configuration_with_unknown_keys_forbidden(tmp_path):
    import shutil

    from pipelines.lib.config import PROJECT_CONFIG_DIR, ConfigError, load_config
    from pipelines.lib.config.limits import Limits

    config = tmp_path / "config"
    shutil.copytree(PROJECT_CONFIG_DIR, config)
    assert load_config(config).limits == Limits()  # the committed file states the defaults
    (config / "limits.yaml").write_text("files:\n  max_file_byte: 10\nhttp:\n  deadline_seconds: 0\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert [str(p).replace(str(config) + "/", "") for p in raised.value.problems] == [
        "limits.yaml: files, key 'max_file_byte': unknown key (did you mean 'max_file_bytes'?)",
        "limits.yaml: http, key 'deadline_seconds': must be greater than 0"]
    (config / "limits.yaml").unlink()
    assert load_config(config).limits == Limits()


def test_a_manifest_keyed_by_file_time_is_rekeyed_by_archiving_time_with_its_rows(tmp_path):
    import duckdb

    from pipelines.lib import warehouse

    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(warehouse.sql("schema").replace("PRIMARY KEY (source_path, sha256, archived_at)",
                                                "PRIMARY KEY (source_path, sha256, received_at)"))
    row = ["ag/2025-01/t.csv", "aa", 1, "2025-01-01 00:00:00+00", "file_drop", "ag", "2025-01-01", "aa/aa.csv"]
    con.execute("INSERT INTO raw_submissions BY NAME SELECT ? AS source_path, ? AS sha256, ? AS size_bytes, "
                "?::TIMESTAMPTZ AS received_at, now() AS archived_at, ? AS source, ? AS agency_id, ?::DATE AS month, "
                "? AS archive_path", row)
    con.close()
    with warehouse.connect(path) as con:
        assert con.execute("SELECT constraint_text FROM duckdb_constraints() WHERE table_name = 'raw_submissions' "
                           "AND constraint_type = 'PRIMARY KEY'").fetchall() == [
            ("PRIMARY KEY(source_path, sha256, archived_at)",)]
        assert con.execute("SELECT source_path, sha256 FROM current_submissions").fetchall() == [tuple(row[:2])]
        con.execute("INSERT INTO raw_submissions BY NAME SELECT ? AS source_path, ? AS sha256, ? AS size_bytes, "
                    "?::TIMESTAMPTZ AS received_at, now() + INTERVAL 1 SECOND AS archived_at, ? AS source, "
                    "? AS agency_id, ?::DATE AS month, ? AS archive_path", row)  # A again, its first file time
        assert con.execute("SELECT count(*) FROM raw_submissions").fetchone() == (2,)


def test_a_json_record_giving_a_key_twice_is_quarantined_by_name_and_the_rest_kept(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('[{"service_id": "S1", "month": "2025-01", "channel": "online", "transactions_completed": 8, '
                    '"transactions_completed": 9}, {"service_id": "S1", "month": "2025-01", "channel": "phone", '
                    '"transactions_completed": 9007199254740993.0}]')
    frame = read_table(path).with_columns(pl.lit("t.json").alias(FILE))
    accepted, quarantined = validate(normalise(frame, AS_SENT, "transactions"), "transactions", "AG1", "2025-01-01",
                                     CATALOGUE)
    assert quarantined.select("row_number", "rule", "offending_value").rows() == [
        (1, "duplicate_json_key", "a key sent twice: 'transactions_completed'")]
    assert accepted.select("channel", "transactions_completed").rows() == [("phone", 9007199254740993)]
