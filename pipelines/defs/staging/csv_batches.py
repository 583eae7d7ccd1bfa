"""Reading many plain CSV returns in one Polars scan per header, instead of one Python parse per file.

A file is taken only where that gives exactly what the per-file reader (`readers.read_table`) gives: UTF-8 (with or
without BOM), not gzipped, no quote, carriage return or NUL anywhere, no blank line, every line within both the line
and the cell limit, every row with the header's number of fields, a header the per-file reader accepts as it is, and
no more rows or columns than the limits allow. Such a file has none of the problems the per-file reader reports row
by row, so its cells are the header's fields split at the delimiter. Every other file, and every file of a batch
Polars refuses or reads otherwise than counted here, is left to the per-file reader, which reports what is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import polars as pl

from pipelines.defs.staging.guards import ParseError, check_shape
from pipelines.defs.staging.readers import FileLayout, sniff_delimiter
from pipelines.lib.config.limits import FileLimits
from transforms.staging import FILE, ROW, SHAPE

def plain_csv(data: bytes, layout: FileLayout, limits: FileLimits) -> tuple[str, tuple[str, ...], int] | None:
    """(delimiter, header as sent, rows) of a file the fast path reads exactly as the per-file reader would (which
    strips the header's names); else None."""
    encoding = layout.encoding.lower().replace("_", "-")
    if (encoding not in ("utf-8", "utf8") or layout.unnamed_columns == "number"
            or any(b in data for b in (b'"', b"\r", b"\x00"))):
        return None
    raw = data.split(b"\n")
    if raw[-1] == b"":
        raw.pop()
    if len(raw) < 2 or max(map(len, raw)) >= min(limits.max_line_bytes, limits.max_field_bytes + 1):
        return None
    try:
        lines = data.decode("utf-8-sig").split("\n")
    except UnicodeDecodeError:
        return None
    if lines[-1] == "":
        lines.pop()
    delimiter = layout.delimiter or sniff_delimiter(lines[0])
    sent = lines[0].split(delimiter)
    header = tuple(h.strip() for h in sent)
    width, rows = len(header), len(lines) - 1
    if len(set(header)) != width or "" in header or len(set(sent)) != width:
        return None
    try:
        check_shape(rows, width, limits)
    except ParseError:
        return None
    for line in lines[1:]:
        if line.count(delimiter) != width - 1 or not line.replace(delimiter, "").strip():
            return None
    return delimiter, tuple(sent), rows


def read_plain_csvs(files: list[tuple[str, Path, FileLayout]], limits: FileLimits) -> dict[str, pl.DataFrame]:
    """Frames as `read_table` gives them (with `_source_file`) for the files of `files` (source path, archive
    path, layout) that the fast path takes; the others are not in the result."""
    groups = defaultdict(list)
    for source_path, path, layout in files:
        try:
            suffixes = [s.lower() for s in Path(source_path).suffixes]
            taken = suffixes[-1:] == [".csv"] and path.stat().st_size <= limits.max_file_bytes
            shape = plain_csv(path.read_bytes(), layout, limits) if taken else None
        except Exception:  # noqa: BLE001 - the per-file reader reads it again and says what is wrong
            continue
        if shape is not None:
            groups[shape[:2]].append((source_path, path, shape[2]))
    frames = {}
    for (delimiter, header), members in groups.items():
        frames |= _read_group(delimiter, header, members)
    return frames


def _read_group(delimiter: str, header: tuple[str, ...], members: list) -> dict[str, pl.DataFrame]:
    """One lazy Polars scan of files with one header: rows numbered across the files in their order, so each
    file's own row numbers are those less its first."""
    try:
        table = pl.scan_csv([path for _, path, _ in members], separator=delimiter, has_header=True,
                            infer_schema=False, quote_char=None, comment_prefix=None, glob=False,
                            include_file_paths="_path", row_index_name="_index").collect()
    except Exception:  # noqa: BLE001 - each file is read on its own, and what is wrong with it is said there
        return {}
    source = {str(path): source_path for source_path, path, _ in members}
    table = table.select(
        (pl.col("_index") - pl.col("_index").min().over("_path") + 1).cast(pl.UInt32).alias(ROW),
        *(pl.col(column).alias(name.strip()) for column, name in zip(table.columns[1:-1], header)),
        pl.lit(None, pl.String).alias(SHAPE),
        pl.col("_path").replace_strict(source).alias(FILE))
    parts = table.partition_by(FILE, maintain_order=True, as_dict=True)
    counted = {source_path: rows for source_path, _, rows in members}
    if {path: part.height for (path,), part in parts.items()} != counted or table.width != len(header) + 3:
        return {}
    return {path: part for (path,), part in parts.items()}
