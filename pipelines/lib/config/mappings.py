"""mappings/*.yaml: how an agency's files become the canonical returns (the keys staging and the readers use)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from pipelines.lib.config.base import Channel, Model, Text, one_name, raise_broken
from transforms.domain import RETURN_TYPES
from transforms.staging import COLUMNS, NUMERIC


class Unpivot(Model):
    """Wide returns: a column per channel, made one row per channel, with the reported total checked."""

    value: Text  # the canonical column the channel columns' figures go to
    total: Text  # the column of the reported total
    columns: Annotated[dict[str, Channel], Field(min_length=1)]  # their column -> our channel


class ReturnLayout(Model):
    """How one return of an agency is laid out: its file and what turns it into the canonical columns."""

    file: str | None  # the file's name in the month's folder (null: the return arrives as extracts)
    extract: Text | None = None  # transactions only: a glob of transaction-level extract files
    sheet: Text | None = None  # XLSX: the sheet (else the first)
    delimiter: str | None = None  # CSV: else guessed from the header
    encoding: str = "utf-8"
    records_key: Text = "data"  # JSON: where an object keeps its list of records
    rename: dict[str, Text] = {}  # their column -> ours
    values: dict[str, dict[str, str]] = {}  # our column -> their label -> ours
    not_provided: list[str] = []  # markers of a figure that was not provided
    not_applicable: list[str] = []  # markers of a figure that does not apply (a channel not offered)
    thousands: Text | None = None  # a thousands separator to drop
    scale: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = {}  # e.g. cost_gbp: 1000
    month_format: Text | None = None  # a strptime format for the month column
    unpivot: Unpivot | None = None

    @field_validator("file")
    @classmethod
    def _file_name(cls, value: str | None) -> str | None:
        if value is not None and not one_name(value):
            raise ValueError("must be a file name, without a folder")
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("must be one character")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            b"a".decode(value)
        except UnicodeDecodeError:
            pass  # a real text encoding (UTF-16 cannot decode one byte)
        except LookupError:
            raise ValueError(f"{value!r} is not a text encoding Python knows (such as utf-8 or cp1252)") from None
        return value

    @field_validator("month_format")
    @classmethod
    def _month_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError("must be a strptime format, such as %b %Y")
        return value

    @model_validator(mode="after")
    def _read_from_somewhere(self) -> ReturnLayout:
        if self.file is None and self.extract is None:
            raise_broken([(("file",), "missing: a return needs a file (or, for transactions, an extract)")])
        return self


class Returns(Model):
    """The three monthly returns of an agency that sends returns."""

    transactions: ReturnLayout
    costs: ReturnLayout
    satisfaction: ReturnLayout

    @model_validator(mode="after")
    def _columns_of_each_return(self) -> Returns:
        problems = []
        for return_type in RETURN_TYPES:
            layout: ReturnLayout = getattr(self, return_type)
            figures = [c for c in COLUMNS[return_type] if c in NUMERIC]
            if layout.extract is not None and return_type != "transactions":
                problems.append(((return_type, "extract"), "only transactions arrive as extracts"))
            problems += [((return_type, "scale", column), f"is not a figure of {return_type} ({', '.join(figures)})")
                         for column in layout.scale if column not in figures]
            problems += [((return_type, "values", column),
                          f"is not a column of {return_type} ({', '.join(COLUMNS[return_type])})")
                         for column in layout.values if column not in COLUMNS[return_type]]
            if layout.unpivot is not None and layout.unpivot.value not in figures:
                problems.append(((return_type, "unpivot", "value"),
                                 f"must be a figure of {return_type} ({', '.join(figures)})"))
        raise_broken(problems)
        return self


class Records(Model):
    """Performance-Platform records: the publisher's service slugs and channel names, to ours."""

    services: Annotated[dict[str, Text], Field(min_length=1)]
    channels: dict[str, Channel] = {}


class MappingFile(Model):
    """One file of mappings/: monthly returns, Performance-Platform records, or both."""

    returns: Returns | None = None
    records: Records | None = None

    @model_validator(mode="after")
    def _something_mapped(self) -> MappingFile:
        if self.returns is None and self.records is None:
            raise_broken([(("returns",), "missing: a mapping has returns (monthly returns) or records "
                                          "(Performance-Platform records)")])
        return self
