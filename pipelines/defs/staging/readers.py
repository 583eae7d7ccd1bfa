"""Reading a submitted file as a table of text: CSV (any delimiter, UTF-8 with or without BOM, or a declared
encoding such as cp1252), XLSX (a named sheet or the first), JSON records, Parquet, and gzip of any of these.

Every cell comes back as text (null where empty) with `_row_number` from 1 (the first row under the header). A CSV
row with the wrong number of fields is kept and marked in `_row_shape`, so validation can quarantine that row
alone. A file that cannot be read as a table at all raises ParseError with the parser's reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import polars as pl

from transforms.staging import ROW, SHAPE

DELIMITERS = ",;\t|"


class ParseError(ValueError):
    """A file that cannot be read as a table at all; the message is the reason, for the quarantine."""


def read_table(path: Path, layout: dict, name: str | None = None) -> pl.DataFrame:
    """`name` is the file's submitted name (its suffixes decide the format; the archive copy may differ)."""
    data = path.read_bytes()
    suffixes = [s.lower() for s in Path(name or path.name).suffixes]
    if suffixes[-1:] == [".gz"]:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ParseError(f"not a readable gzip file: {error}") from error
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if not data.strip():
        raise ParseError("the file is empty")
    readers = {".csv": _csv, ".xlsx": _xlsx, ".json": _json, ".parquet": _parquet}
    if kind not in readers:
        raise ParseError(f"unsupported file type {kind or '(none)'!r}")
    frame = readers[kind](data, layout)
    if frame.height == 0:
        raise ParseError("the file has a header but no rows")
    return frame.with_row_index(ROW, offset=1)


def _decode(data: bytes, layout: dict) -> str:
    encoding = layout.get("encoding", "utf-8")
    try:
        return data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as error:
        raise ParseError(f"the file is not {encoding} (byte {error.start}: {data[error.start:error.start + 1]!r}); "
                         "declare its encoding in the agency's mapping, e.g. encoding: cp1252") from error


def _csv(data: bytes, layout: dict) -> pl.DataFrame:
    text = _decode(data, layout)
    delimiter = layout.get("delimiter") or _sniff(text.split("\n", 1)[0])
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header, body = [h.strip() for h in rows[0]], [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if len(set(header)) != len(header) or "" in header:
        raise ParseError(f"the header has empty or repeated column names: {header}")
    width = len(header)
    columns = {h: [(r[i] if i < len(r) else "") or None for r in body] for i, h in enumerate(header)}
    columns[SHAPE] = [None if len(r) == width else f"{len(r)} fields where the header has {width}" for r in body]
    return pl.DataFrame(columns, schema={c: pl.String for c in columns})


def _sniff(first_line: str) -> str:
    """The delimiter that splits the header into the most columns."""
    return max(DELIMITERS, key=first_line.count)


def _xlsx(data: bytes, layout: dict) -> pl.DataFrame:
    try:
        frame = pl.read_excel(io.BytesIO(data), sheet_name=layout.get("sheet"),
                              sheet_id=None if layout.get("sheet") else 1, infer_schema_length=0)
    except Exception as error:
        raise ParseError(f"{type(error).__name__}: {_first_line(error)}") from error
    unnamed = [c for c in frame.columns if c.startswith("__UNNAMED__")]
    if unnamed:
        raise ParseError(f"{len(unnamed)} header cell(s) are empty or merged; put one column name in each cell "
                         "of the first row")
    return frame.select(pl.all().cast(pl.String))


def _json(data: bytes, layout: dict) -> pl.DataFrame:
    try:
        records = json.loads(_decode(data, layout))
    except json.JSONDecodeError as error:
        raise ParseError(f"JSONDecodeError: {error}") from error
    if isinstance(records, dict) and isinstance(records.get(layout.get("records_key", "data")), list):
        records = records[layout.get("records_key", "data")]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ParseError("the JSON is not a list of records (objects)")
    if not records:
        raise ParseError("the file is an empty list of records")
    keys = list(dict.fromkeys(k for r in records for k in r))
    return pl.DataFrame({k: [_text(r.get(k)) for r in records] for k in keys},
                        schema={k: pl.String for k in keys})


def _text(value) -> str | None:
    if value is None or value == "":
        return None
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _parquet(data: bytes, layout: dict) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as error:
        raise ParseError(f"{type(error).__name__}: {_first_line(error)}") from error
    return frame.select(pl.all().cast(pl.String))


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else ""
