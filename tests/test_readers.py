"""Every file format a file drop may use is read as the same table of text, and unreadable files say why."""

import datetime as dt
import gzip
import io
import json

import polars as pl
import pytest
import xlsxwriter

from pipelines.defs.staging.readers import ParseError, read_table
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.staging import FILE, normalise

ROWS = [["S1", "2025-01", "online", "10", "8"], ["S1", "2025-01", "phone", "", "4"]]
HEADER = ["service_id", "month", "channel", "transactions_started", "transactions_completed"]
EXPECTED = [("S1", "2025-01", "online", "10", "8", None, 1), ("S1", "2025-01", "phone", None, "4", None, 2)]


def csv_bytes(delimiter=",", encoding="utf-8", bom=False) -> bytes:
    text = "\n".join(delimiter.join(r) for r in [HEADER, *ROWS]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


def read(tmp_path, name: str, data: bytes, layout: ReturnLayout = AS_SENT) -> list[tuple]:
    path = tmp_path / name
    path.write_bytes(data)
    frame = read_table(path, layout)
    shape = pl.col("_row_shape") if "_row_shape" in frame.columns else pl.lit(None).alias("_row_shape")  # CSV only
    return frame.select(*HEADER, shape, "_row_number").rows()


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_with_any_delimiter(tmp_path, delimiter):
    assert read(tmp_path, "t.csv", csv_bytes(delimiter)) == EXPECTED


def test_csv_with_a_byte_order_mark(tmp_path):
    assert read(tmp_path, "t.csv", csv_bytes(bom=True)) == EXPECTED


def test_csv_in_a_declared_cp1252(tmp_path):
    data = csv_bytes().replace(b"phone", "t\xe9l\xe9phone".encode("cp1252"))
    rows = read(tmp_path, "t.csv", data, ReturnLayout(file="t.csv", encoding="cp1252"))
    assert rows[1][2] == "téléphone"


def test_csv_in_an_undeclared_encoding_is_refused(tmp_path):
    data = csv_bytes().replace(b"phone", "t\xe9l\xe9phone".encode("cp1252"))
    with pytest.raises(ParseError, match="not utf-8 .* encoding: cp1252"):
        read(tmp_path, "t.csv", data)


@pytest.mark.parametrize("encoding, sign, codec", [
    ("utf-16", "it starts with a UTF-16 byte order mark", "utf-16"),  # as Excel's "Unicode text" saves it
    ("utf-16-le", "every other byte is NUL", "utf-16-le"),
    ("utf-16-be", "every other byte is NUL", "utf-16-be"),
])
def test_csv_in_undeclared_utf16_is_refused_saying_so_and_read_once_declared(tmp_path, encoding, sign, codec):
    with pytest.raises(ParseError) as refused:
        read(tmp_path, "t.csv", csv_bytes(encoding=encoding))
    assert str(refused.value) == (f"the file is UTF-16 ({sign}), not utf-8: save it as UTF-8, or declare its "
                                  f"encoding in the agency's mapping: encoding: {codec}")
    with pytest.raises(ParseError, match=f"the file is UTF-16 .*, not cp1252: .* encoding: {codec}"):
        read(tmp_path, "t.csv", csv_bytes(encoding=encoding), ReturnLayout(file="t.csv", encoding="cp1252"))
    assert read(tmp_path, "t.csv", csv_bytes(encoding=encoding), ReturnLayout(file="t.csv", encoding=codec)) == EXPECTED


def test_xlsx_named_sheet_and_first_sheet(tmp_path):
    data = xlsx_bytes({"Cover": [["About"], ["nothing here"]], "Volumes": [HEADER, *ROWS]})
    assert read(tmp_path, "t.xlsx", data, ReturnLayout(file="t.xlsx", sheet="Volumes")) == EXPECTED
    first = xlsx_bytes({"Volumes": [HEADER, *ROWS], "Notes": [["x"], ["y"]]})
    assert read(tmp_path, "u.xlsx", first) == EXPECTED


def test_json_records_and_records_under_data(tmp_path):
    records = [dict(zip(HEADER, [v or None for v in r])) for r in ROWS]
    assert read(tmp_path, "t.json", json.dumps(records).encode()) == EXPECTED
    assert read(tmp_path, "u.json", json.dumps({"data": records}).encode()) == EXPECTED


def test_parquet(tmp_path):
    buffer = io.BytesIO()
    pl.DataFrame([dict(zip(HEADER, [v or None for v in r])) for r in ROWS]).write_parquet(buffer)
    assert read(tmp_path, "t.parquet", buffer.getvalue()) == EXPECTED


@pytest.mark.parametrize("name, data", [
    ("t.csv.gz", csv_bytes()),
    ("t.json.gz", json.dumps([dict(zip(HEADER, [v or None for v in r])) for r in ROWS]).encode()),
])
def test_gzip_of_any_format(tmp_path, name, data):
    assert read(tmp_path, name, gzip.compress(data, mtime=0)) == EXPECTED


@pytest.mark.parametrize("name, data, reason", [
    ("t.csv", b"", "the file is empty"),
    ("t.csv", b"a,b\n", "the file has a header but no rows"),
    ("t.csv", b"a,,b\n1,2,3\n", "the header has empty or repeated column names"),
    ("t.csv.gz", b"not gzip at all", "not a readable gzip file"),
    ("t.json", b"[1, 2]", "the JSON is not a list of records"),
    ("t.json", b"[]", "the file is an empty list of records"),
    ("t.json", b'[{"a": 1}', "JSONDecodeError"),
    ("t.xlsx", b"PK\x03\x04 not really a workbook", ""),
    ("t.parquet", b"PAR1 broken", ""),
    ("t.txt", b"hello", "unsupported file type '.txt'"),
])
def test_unreadable_files_say_why(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ParseError) as raised:
        read_table(path)
    assert reason in str(raised.value) and str(raised.value)


def test_a_short_row_is_marked_not_dropped(tmp_path):
    rows = read(tmp_path, "t.csv", csv_bytes() + b"S2,2025-01,online\n")
    assert rows[2] == ("S2", "2025-01", "online", None, None, "3 fields where the header has 5", 3)


def test_json_numbers_are_read_as_written_never_through_a_float(tmp_path):
    text = ('[{"service_id": "S1", "month": "2025-01", "channel": "online", "transactions_started": '
            '9007199254740993.0, "transactions_completed": 5.0000000001}]')
    assert read(tmp_path, "t.json", text.encode()) == [
        ("S1", "2025-01", "online", "9007199254740993.0", "5.0000000001", None, 1)]


def test_a_json_record_giving_a_key_twice_is_marked_by_its_key(tmp_path):
    text = ('[{"service_id": "S1", "month": "2025-01", "channel": "online", "transactions_started": 10, '
            '"transactions_completed": 8, "transactions_completed": 9}, '
            '{"service_id": "S1", "month": "2025-01", "channel": "phone", "transactions_completed": 4}]')
    assert read(tmp_path, "t.json", text.encode()) == [
        ("S1", "2025-01", "online", "10", "9", "a key sent twice: 'transactions_completed'", 1),
        ("S1", "2025-01", "phone", None, "4", None, 2)]
    nested = '{"data": [{"service_id": "S1"}], "meta": {"x": 1, "x": 2}}'
    with pytest.raises(ParseError, match="a key sent twice: 'x'") as raised:
        read(tmp_path, "u.json", nested.encode())
    assert raised.value.rule == "duplicate_json_key"


def test_xlsx_date_cells_are_read_as_their_date(tmp_path):
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    sheet.write_row(1, 0, ROWS[0])
    sheet.write_datetime(1, 1, dt.datetime(2025, 1, 1), book.add_format({"num_format": "mmm yyyy"}))
    book.close()
    assert read(tmp_path, "t.xlsx", buffer.getvalue()) == [("S1", "2025-01-01", "online", "10", "8", None, 1)]
    # a layout written for dates as text ("Jan 2025") reads the date cell as its month too
    frame = read_table(tmp_path / "t.xlsx").with_columns(pl.lit("t.xlsx").alias(FILE))
    normalised = normalise(frame, ReturnLayout(file="t.xlsx", month_format="%b %Y"), "transactions")
    assert normalised.select("period_start", "grain").rows() == [(dt.date(2025, 1, 1), "month")]
