"""Bounded-memory guards run before a parser sees a file: gzip decompressed in chunks under a size and ratio
limit, an XLSX's parts checked without unpacking them and its sheets' ranges by a streaming XML parser, a Parquet
file's declared size checked from its footer. Each refusal is a ParseError with the rule of the limit it broke
(config/limits.yaml)."""

from __future__ import annotations

import functools
import io
import posixpath
import re
import xml.parsers.expat
import zipfile
import zlib

from pipelines.lib.config.limits import FileLimits

CHUNK = 1 << 20
RATIO_FLOOR = 1 << 20  # a ratio only means something once this much came out: tiny files compress very well
WORKBOOK, WORKBOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"  # where readers of XLSX look for them
MAX_SHEETS = 10_000  # sheets a workbook may list: Excel has no fixed limit, a return has a handful
CELL = re.compile(r"([A-Za-z]{0,7})(\d{0,15})")  # a cell reference: column letters, row digits
ROW = re.compile(r"\d{1,15}")


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
    """Every part of the workbook within the decompression limits, and every sheet within files.max_sheet_cells:
    the sheets the workbook lists (found through its relationships, wherever they are in the archive) and any XML
    part under xl/worksheets/, each read by a streaming XML parser that stops as soon as the sheet's declared or used
    range is over the limit (a parser would allocate the whole range up front)."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        parts = book.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ParseError(f"not a readable XLSX file (an XLSX is a zip archive): {error}") from error
    for part in parts:
        _check_inflated(part.file_size, max(part.compress_size, 1), limits, f"the XLSX part {part.filename!r}")
    sheets = _listed_sheets(book)
    sheets.update({part.filename: part.filename for part in parts if part.filename not in sheets
                   and part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml")})
    for part in parts:  # every entry of a name: a zip may hold two, and a reader may take either
        if part.filename in sheets:
            _parse(book, part, _SheetRange(sheets[part.filename], limits.max_sheet_cells).start)


def _listed_sheets(book: zipfile.ZipFile) -> dict[str, str]:
    """Part name -> sheet name for each sheet xl/workbook.xml lists, through xl/_rels/workbook.xml.rels. A target
    is taken both as the OPC resolves it (relative to xl/) and as readers of the format do (xl/ put before it)."""
    names = set(book.namelist())
    if not {WORKBOOK, WORKBOOK_RELS} <= names:
        return {}
    listed = _Sheets()
    _parse(book, book.getinfo(WORKBOOK), listed.start)
    targets = _Targets(set(listed.names))
    _parse(book, book.getinfo(WORKBOOK_RELS), targets.start)
    sheets = {}
    for rid, target in targets.found.items():
        for part in (posixpath.normpath(posixpath.join("xl", target)).lstrip("/"),
                     target.lstrip("/") if target.startswith(("/xl/", "xl/")) else f"xl/{target}"):
            if part in names:
                sheets.setdefault(part, listed.names[rid])
    return sheets


def _parse(book: zipfile.ZipFile, part: zipfile.ZipInfo, start) -> None:
    """Stream one part through expat, calling start(name, attributes) for each element (a namespaced name is
    'namespace local'). A document type declaration is refused: no XLSX part has one, and without it no entity can
    be declared, expanded or fetched. (expat itself: through defusedxml's SAX parser this guard took twice as long.)"""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")

    def refuse_doctype(name, *_):
        raise ParseError(f"not a readable XLSX file: {part.filename}: it declares a document type ({name}), which "
                         "an XLSX part never does")
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    try:
        with book.open(part) as stream:
            parser.ParseFile(stream)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, xml.parsers.expat.ExpatError) as error:
        raise ParseError(f"not a readable XLSX file: {part.filename}: {error}") from error


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


class _Sheets:
    """The sheets of xl/workbook.xml: relationship id -> sheet name."""

    def __init__(self):
        self.names = {}

    def start(self, name: str, attrs: dict) -> None:
        if _local(name) != "sheet":
            return
        if len(self.names) == MAX_SHEETS:
            raise ParseError(f"the workbook lists more than {MAX_SHEETS:,} sheets")
        for key, value in attrs.items():
            if _local(key) == "id":  # r:id, whatever prefix the relationships namespace is given
                self.names.setdefault(value, attrs.get("name", value))


class _Targets:
    """The targets of the relationships in `wanted` (the sheets' ids), internal ones only."""

    def __init__(self, wanted: set[str]):
        self.wanted, self.found = wanted, {}

    def start(self, name: str, attrs: dict) -> None:
        if _local(name) == "Relationship" and attrs.get("Id") in self.wanted and attrs.get("TargetMode") != "External":
            self.found[attrs["Id"]] = attrs.get("Target", "")


class _SheetRange:
    """A sheet's declared range (<dimension ref>) and used range (rows and cells, by reference or by position, as a
    reader counts them), refused the moment rows x columns is over `limit`."""

    def __init__(self, sheet: str, limit: int):
        self.sheet, self.limit = sheet, limit
        self.rows = self.columns = self.row = self.column = 0

    def start(self, name: str, attrs: dict) -> None:
        local = name[name.rfind(" ") + 1:]  # most elements are cells and values: kept short, it is the guard's cost
        if local == "c":
            self.row, self.column = _cell(attrs.get("r"), self.row, self.column + 1)
            if self.column > self.columns or self.row > self.rows:
                self._reach(self.row, self.column)
        elif local == "row":
            self.row, self.column = _row(attrs.get("r"), self.row + 1), 0
            self._reach(self.row, 1)
        elif local == "dimension":
            for ref in (attrs.get("ref") or "").split(":"):
                self._reach(*_cell(ref, 0, 0))

    def _reach(self, row: int, column: int) -> None:
        self.rows, self.columns = max(self.rows, row), max(self.columns, column)
        if self.rows * self.columns > self.limit:
            raise ParseError(f"the sheet {self.sheet!r} spans {self.rows:,} rows x {self.columns:,} columns, over "
                             f"{self.limit:,} cells (files.max_sheet_cells)", "sheet_too_large")


def _row(text: str | None, default: int) -> int:
    return int(text) if text and ROW.fullmatch(text.strip()) else default


def _cell(ref: str | None, row: int, column: int) -> tuple[int, int]:
    """(row, column) of a reference such as XFD1048576; a part left out keeps the position given."""
    match = CELL.fullmatch(ref.replace("$", "").strip()) if ref else None
    if not match:
        return row, column
    letters, digits = match.groups()
    return (int(digits) if digits else row), (_column_number(letters) if letters else column)


@functools.lru_cache(maxsize=1 << 14)  # a sheet's cells repeat the same few column letters
def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
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
