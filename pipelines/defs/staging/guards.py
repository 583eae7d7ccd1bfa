"""Bounded-memory guards run before a parser sees a file: gzip decompressed in chunks under a size and ratio
limit, an XLSX's parts and sheet dimensions checked without unpacking them, a Parquet file's declared size checked
from its footer. Each refusal is a ParseError with the rule of the limit it broke (config/limits.yaml)."""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from pipelines.lib.config.limits import FileLimits

CHUNK = 1 << 20
RATIO_FLOOR = 1 << 20  # a ratio only means something once this much came out: tiny files compress very well
CELL_REF = re.compile(rb'\br="([A-Z]{1,7})(\d{1,15})"')
ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d{1,15})"')
DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{0,7})(\d{0,15})(?::([A-Z]{1,7})(\d{1,15}))?"')


class ParseError(ValueError):
    """A file that cannot be read as a table at all; the message is the reason, for the quarantine, and `rule`
    names it (`unreadable_file` unless a limit was broken)."""

    def __init__(self, message: str, rule: str = "unreadable_file"):
        super().__init__(message)
        self.rule = rule


def gunzip(data: bytes, limits: FileLimits) -> bytes:
    """The content of a gzip file (members one after another), refused as soon as it outgrows the limits."""
    out, size, rest = [], 0, data
    try:
        while rest:
            inflater = zlib.decompressobj(wbits=31)
            pending = rest
            while pending and not inflater.eof:
                out.append(inflater.decompress(pending, CHUNK))
                size += len(out[-1])
                pending = inflater.unconsumed_tail
                _check_inflated(size, len(data), limits, "the gzip file")
            if not inflater.eof:
                raise ParseError("not a readable gzip file: it ends before its compressed stream does")
            rest = inflater.unused_data
    except zlib.error as error:
        raise ParseError(f"not a readable gzip file: {error}") from error
    return b"".join(out)


def _check_inflated(size: int, compressed: int, limits: FileLimits, what: str) -> None:
    if size > limits.max_decompressed_bytes:
        raise ParseError(f"{what} decompresses to more than {limits.max_decompressed_bytes:,} bytes "
                         "(files.max_decompressed_bytes)", "decompression_limit")
    if size > RATIO_FLOOR and size > compressed * limits.max_compression_ratio:
        raise ParseError(f"{what} decompresses to more than {limits.max_compression_ratio} times its size "
                         "(files.max_compression_ratio): a compression bomb, or raise the limit", "decompression_limit")


def check_xlsx(data: bytes, limits: FileLimits) -> None:
    """Every part of the workbook within the decompression limits, and every sheet's declared and used range
    within files.max_sheet_cells, read in chunks (a parser would allocate the whole range up front)."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        parts = book.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ParseError(f"not a readable XLSX file (an XLSX is a zip archive): {error}") from error
    for part in parts:
        _check_inflated(part.file_size, max(part.compress_size, 1), limits, f"the XLSX part {part.filename!r}")
    for part in parts:
        if part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml"):
            rows, columns = _used_range(book, part)
            if rows * columns > limits.max_sheet_cells:
                raise ParseError(f"the sheet {part.filename.rsplit('/', 1)[-1]!r} spans {rows:,} rows x {columns:,} "
                                 f"columns, over {limits.max_sheet_cells:,} cells (files.max_sheet_cells)",
                                 "sheet_too_large")


def _used_range(book: zipfile.ZipFile, part: zipfile.ZipInfo) -> tuple[int, int]:
    """(last row, last column) a sheet declares in <dimension> or uses in a cell or row reference."""
    rows = columns = 0
    tail = b""
    try:
        with book.open(part) as stream:
            while chunk := stream.read(CHUNK):
                text, tail = tail + chunk, (tail + chunk)[-256:]
                for letters, digits in CELL_REF.findall(text):
                    rows, columns = max(rows, int(digits)), max(columns, _column_number(letters))
                for digits in ROW_REF.findall(text):
                    rows = max(rows, int(digits))
                for match in DIMENSION.finditer(text):
                    first_letters, first_digits, last_letters, last_digits = match.groups()
                    rows = max(rows, int(last_digits or first_digits or 0))
                    columns = max(columns, _column_number(last_letters or first_letters or b""))
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise ParseError(f"not a readable XLSX file: {part.filename}: {error}") from error
    return rows, max(columns, 1)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def check_parquet(data: bytes, limits: FileLimits) -> None:
    """Rows, columns and uncompressed size as the file's footer declares them, before anything is decoded."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as error:  # pyarrow raises several types for a damaged footer
        raise ParseError(f"not a readable Parquet file: {type(error).__name__}: {error}") from error
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    _check_inflated(size, len(data), limits, "the Parquet file")
    check_shape(meta.num_rows, meta.num_columns, limits)


def check_shape(rows: int, columns: int, limits: FileLimits) -> None:
    if columns > limits.max_columns:
        raise ParseError(f"the file has {columns:,} columns, over {limits.max_columns:,} (files.max_columns)",
                         "too_many_columns")
    if rows > limits.max_rows:
        raise ParseError(f"the file has more than {limits.max_rows:,} rows (files.max_rows); send it as an "
                         "extract, or split it", "too_many_rows")
