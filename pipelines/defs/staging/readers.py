"""Reading a submitted file as a table of text: CSV (any delimiter, UTF-8 with or without BOM, or a declared
encoding such as cp1252), XLSX (a named sheet or the first), JSON records, Parquet, and gzip of any of these.

Every cell comes back as text (null where empty) with `_row_number` from 1 (the first row under the header). A row
that cannot be read as it was sent (the wrong number of fields, an unterminated or stray quote, a line or a cell
over its limit) is kept with the problem in `_row_shape`, so validation quarantines that row alone and every row
after it is still read. A file that cannot be read as a table at all, or breaks a limit of config/limits.yaml,
raises ParseError with the rule and the reason.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
from pathlib import Path

import polars as pl

from pipelines.defs.staging.guards import ParseError, check_parquet, check_shape, check_xlsx, gunzip
from pipelines.lib.config.limits import FileLimits
from transforms.layouts import series_records
from transforms.mappings import AS_SENT, CatalogueLayout, ReturnLayout
from transforms.staging import ROW, SHAPE

DELIMITERS = ",;\t|"
UTF16_SAMPLE = 4096  # bytes looked at for the NUL pattern of UTF-16 without a byte order mark
FileLayout = ReturnLayout | CatalogueLayout  # what a file is read by: its encoding, delimiter, sheet, JSON keys
__all__ = ["FileLayout", "ParseError", "read_table"]


def read_table(path: Path, layout: FileLayout = AS_SENT, name: str | None = None,
               limits: FileLimits | None = None) -> pl.DataFrame:
    """`name` is the file's submitted name (its suffixes decide the format; the archive copy may differ); `layout`
    the mapping's layout of the file (none: read as sent)."""
    limits = limits or FileLimits()
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ParseError(f"the file is {size:,} bytes, over {limits.max_file_bytes:,} (files.max_file_bytes)",
                         "file_too_large")
    data = path.read_bytes()
    suffixes = [s.lower() for s in Path(name or path.name).suffixes]
    if suffixes[-1:] == [".gz"]:
        data = gunzip(data, limits)
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if not data or data.isspace():  # not data.strip(): that would copy the whole file
        raise ParseError("the file is empty")
    readers = {".csv": _csv, ".xlsx": _xlsx, ".json": _json, ".parquet": _parquet}
    if kind not in readers:
        raise ParseError(f"unsupported file type {kind or '(none)'!r}")
    frame = readers[kind](data, layout, limits)
    if frame.height == 0:
        raise ParseError("the file has a header but no rows")
    check_shape(frame.height, frame.width - (SHAPE in frame.columns), limits)
    return _mark_long_cells(frame, limits).with_row_index(ROW, offset=1)


def _mark_long_cells(frame: pl.DataFrame, limits: FileLimits) -> pl.DataFrame:
    """A row with a cell over files.max_field_bytes keeps its place, with that cell emptied and the problem noted."""
    cells = [c for c in frame.columns if c != SHAPE]
    too_long = [pl.col(c).str.len_bytes() > limits.max_field_bytes for c in cells]
    if not frame.select(pl.any_horizontal(too_long).any()).item():
        return frame
    shape = pl.col(SHAPE) if SHAPE in frame.columns else pl.lit(None, pl.String)
    note = pl.when(pl.any_horizontal(too_long)).then(pl.lit(f"a cell over {limits.max_field_bytes:,} bytes "
                                                             "(files.max_field_bytes)"))
    return frame.with_columns(*(pl.when(long).then(None).otherwise(pl.col(c)).alias(c)
                                for c, long in zip(cells, too_long)),
                              pl.coalesce(shape, note).alias(SHAPE))


def _decode(data: bytes, layout: FileLayout) -> str:
    encoding = layout.encoding
    found = _utf16(data)
    if found and not encoding.lower().replace("_", "-").startswith("utf-16"):
        sign, codec = found
        raise ParseError(f"the file is UTF-16 ({sign}), not {encoding}: save it as UTF-8, or declare its encoding in "
                         f"the agency's mapping: encoding: {codec}")
    try:
        return data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as error:
        raise ParseError(f"the file is not {encoding} (byte {error.start}: {data[error.start:error.start + 1]!r}); "
                         "declare its encoding in the agency's mapping, e.g. encoding: cp1252") from error


def _utf16(data: bytes) -> tuple[str, str] | None:
    """(what shows it, the codec to declare) when the text is UTF-16: a byte order mark, or NUL as every other byte
    of the first kilobytes (the high byte of Latin text), which also decodes as UTF-8 and would be read as garbage."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "it starts with a UTF-16 byte order mark", "utf-16"
    sample = data[:UTF16_SAMPLE - UTF16_SAMPLE % 2]
    even, odd = sample[0::2], sample[1::2]
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if len(zeros) >= 2 and zeros.count(0) >= 0.9 * len(zeros) and other.count(0) <= 0.1 * len(other):
            return "every other byte is NUL", codec
    return None


def _csv(data: bytes, layout: FileLayout, limits: FileLimits) -> pl.DataFrame:
    previous = csv.field_size_limit(limits.max_line_bytes + 1)  # the csv module's limit is the process's: restored
    try:
        return _csv_cells(data, layout, limits)
    finally:
        csv.field_size_limit(previous)


def _csv_cells(data: bytes, layout: FileLayout, limits: FileLimits) -> pl.DataFrame:
    text = _decode(data, layout)
    delimiter = layout.delimiter or sniff_delimiter(text[:limits.max_line_bytes].split("\n", 1)[0])
    records = _records(io.StringIO(text, newline="").readlines(), delimiter, limits)
    first = next(records, None)
    if first is None or first[1] is not None:
        raise ParseError(f"the header cannot be read: {first[1] if first else 'no header'}")
    header = [h.strip() for h in first[0]]
    check_shape(0, len(header), limits)
    if layout.unnamed_columns == "number":  # a spreadsheet's check columns, declared in the mapping
        header = [h if h and header.index(h) == i else f"(column {i + 1})" for i, h in enumerate(header)]
    if len(set(header)) != len(header) or "" in header:
        raise ParseError(f"the header has empty or repeated column names: {header[:50]}")
    width, body, shapes = len(header), [], []
    for cells, problem in records:
        if problem is None and not any(cell.strip() for cell in cells):
            continue
        if len(body) == limits.max_rows:
            check_shape(len(body) + 1, width, limits)
        if problem is None and len(cells) != width:
            problem = f"{len(cells)} fields where the header has {width}"
        body.append(cells)
        shapes.append(problem)
    columns = {h: [(r[i] if i < len(r) else "") or None for r in body] for i, h in enumerate(header)}
    columns[SHAPE] = shapes
    return pl.DataFrame(columns, schema={c: pl.String for c in columns})


def _records(lines: list[str], delimiter: str, limits: FileLimits):
    """(cells, None) for each record, or ([], problem) for a record that cannot be read. A quoted field may span
    lines; one whose quote never closes (within files.max_line_bytes) is reported on the line it opens on, and
    reading goes on from the next line, so the rows after it are not swallowed into one field."""
    start = 0
    while start < len(lines):
        end, size, quotes = start, 0, 0
        while end < len(lines):
            size += len(lines[end])
            quotes += lines[end].count('"')
            end += 1
            if quotes % 2 == 0 or size > limits.max_line_bytes:
                break
        if end - start == 1 and size > limits.max_line_bytes:
            yield [], f"a line over {limits.max_line_bytes:,} bytes (files.max_line_bytes)"
            start += 1
            continue
        if quotes % 2 or size > limits.max_line_bytes:
            yield [], "an unterminated quote: the quoted field opened on this row never closes"
            start += 1
            continue
        try:
            cells = next(csv.reader(["".join(lines[start:end])], delimiter=delimiter, strict=True), [])
        except csv.Error as error:
            cells, problem = [], f"a stray quote: {error} (quote a field whole, and double a quote inside it)"
        else:
            problem = None
        yield cells, problem
        start = end


def sniff_delimiter(first_line: str) -> str:
    """The delimiter that splits the header into the most columns."""
    return max(DELIMITERS, key=first_line.count)


def _xlsx(data: bytes, layout: FileLayout, limits: FileLimits) -> pl.DataFrame:
    check_xlsx(data, limits)
    try:
        frame = pl.read_excel(io.BytesIO(data), sheet_name=layout.sheet, sheet_id=None if layout.sheet else 1,
                              infer_schema_length=0)
    except Exception as error:  # fastexcel and openpyxl raise many types for a damaged workbook
        raise ParseError(f"{type(error).__name__}: {_first_line(error)}") from error
    unnamed = [c for c in frame.columns if c.startswith("__UNNAMED__")]
    if unnamed:
        raise ParseError(f"{len(unnamed)} header cell(s) are empty or merged; put one column name in each cell "
                         "of the first row")
    # a date cell comes as a date and a time (2025-03-01 00:00:00): its date, as a cell of text would give it
    return frame.select(pl.all().cast(pl.String).str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) 00:00:00$", "${1}"))


def _json(data: bytes, layout: FileLayout, limits: FileLimits) -> pl.DataFrame:
    repeated: dict[int, tuple[dict, list[str]]] = {}  # id of an object that gave a key twice -> (it, those keys)

    def keep_repeats(pairs: list[tuple[str, object]]) -> dict:
        record = dict(pairs)
        if len(record) < len(pairs):
            keys = [k for k, _ in pairs]
            repeated[id(record)] = record, sorted({k for k in keys if keys.count(k) > 1})
        return record

    try:  # numbers as written: a decimal never goes through a float (9007199254740993.0 keeps its last digit)
        records = json.loads(_decode(data, layout), parse_float=decimal.Decimal, object_pairs_hook=keep_repeats)
    except json.JSONDecodeError as error:
        raise ParseError(f"JSONDecodeError: {error}") from error
    except RecursionError as error:
        raise ParseError("the JSON is nested too deeply to be a list of records") from error
    records = series_records(records, layout.series) if layout.series else records
    if isinstance(records, dict) and isinstance(records.get(layout.records_key), list):
        records = records[layout.records_key]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ParseError("the JSON is not a list of records (objects)")
    if not records:
        raise ParseError("the file is an empty list of records")
    shapes = [_twice(repeated[id(r)][1]) if id(r) in repeated else None for r in records]
    nested = [keys for record, keys in repeated.values() if not any(record is r for r in records)]
    if nested:  # inside a record, or a document of series: no one row to set aside
        raise ParseError(f"an object of the JSON gives a key more than once ({_twice(nested[0])}), so which value "
                         "is meant cannot be told; send each key once", "duplicate_json_key")
    keys = list(dict.fromkeys(k for r in records for k in r))
    check_shape(len(records), len(keys), limits)
    cells = {k: [_text(r.get(k)) for r in records] for k in keys}
    if any(shapes):
        cells[SHAPE] = shapes
    return pl.DataFrame(cells, schema={k: pl.String for k in cells})


def _twice(keys: list[str]) -> str:
    return "a key sent twice: " + ", ".join(repr(k) for k in keys)


def _text(value) -> str | None:
    """A JSON value as the text of a cell: a number exactly as written (integers and decimals are read exactly),
    never a float in place of an integer."""
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)  # a decimal inside, as written
    return str(value)


def _parquet(data: bytes, layout: FileLayout, limits: FileLimits) -> pl.DataFrame:
    check_parquet(data, limits)
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as error:  # Polars raises several types for a damaged file
        raise ParseError(f"{type(error).__name__}: {_first_line(error)}") from error
    return frame.select(pl.all().cast(pl.String))


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else ""
