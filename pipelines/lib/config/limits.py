"""limits.yaml: how much of a submitted file, a cell, a value and an HTTP answer the pipeline will read; over a
limit is a named quarantine rule, never a crash or an unbounded allocation."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from pipelines.lib.config.base import Model

Positive = Annotated[int, Field(gt=0)]
BIGINT_MAX = 2**63 - 1


class FileLimits(Model):
    """Per submitted file (readers.py); each names the rule a file or row over it is quarantined by."""

    max_file_bytes: Positive = 64 * 2**20  # file_too_large: the file as stored (extracts are read by DuckDB)
    max_decompressed_bytes: Positive = 64 * 2**20  # decompression_limit: a gzip's content, or one XLSX part
    max_compression_ratio: Positive = 100  # decompression_limit: decompressed / compressed, once above 1 MiB
    max_sheet_cells: Positive = 20_000_000  # sheet_too_large: rows x columns an XLSX sheet declares or uses
    max_columns: Positive = 10_000  # too_many_columns: the header's width
    max_rows: Positive = 5_000_000  # too_many_rows: data rows in one file
    max_field_bytes: Positive = 64 * 2**10  # field_too_long: one cell (the row is quarantined)
    max_line_bytes: Positive = 1 * 2**20  # line_too_long: one CSV record (the row is quarantined)
    max_quarantine_rows_per_rule: Positive = 1000  # quarantine rows listed per file and rule (accounting counts all)


class ValueLimits(Model):
    """Per value (transforms/staging.py validate): beyond these a value is `value_out_of_range`."""

    max_count: Annotated[int, Field(gt=0, le=BIGINT_MAX)] = BIGINT_MAX  # a count; sums are checked too
    max_cost_gbp: Annotated[Decimal, Field(gt=0, le=Decimal("1e15"))] = Decimal("1e12")  # one cost row, GBP


class HttpLimits(Model):
    """Per HTTP fetch (ingestion/http.py)."""

    max_body_bytes: Positive = 256 * 2**20  # http_body_too_large: one page's body
    deadline_seconds: Annotated[float, Field(gt=0)] = 300  # http_timeout: one request, retries included


class Limits(Model):
    """limits.yaml; every section and key may be left out (the defaults above are the documented limits)."""

    files: FileLimits = FileLimits()
    values: ValueLimits = ValueLimits()
    http: HttpLimits = HttpLimits()
