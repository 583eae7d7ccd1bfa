"""The configuration in config/ as typed models (pipelines/lib/config.py loads and checks it).

Files: sources.yaml (the agency registry), mappings/*.yaml (one per agency layout), housekeeping.yaml (retention)
and open_data.yaml (the data package's metadata). Unknown keys are errors everywhere; rules that involve several
keys, entries or files live in the models' validators, so a model that exists is a model that holds.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from transforms.staging import CHANNELS, COLUMNS, NUMERIC

RETURN_TYPES = tuple(COLUMNS)
# The monthly cycle runs on this day for the month just ended (pipelines/automation.py), so every return is due
# before it.
CYCLE_DAY = 21
# Folders under data/landing/ that hold the central team's files (the catalogue, the benefits register).
CENTRAL_FOLDERS = ("catalogue", "benefits")
AGENCY_ID = re.compile(r"[A-Za-z0-9_]+")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")

Text = Annotated[str, Field(min_length=1)]
Channel = Literal[CHANNELS]
Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _raise_broken(problems: list[tuple[tuple, str]]) -> None:
    """Report a model's broken cross-field rules together, each with the key (relative to the model) it is about."""
    if problems:
        raise PydanticCustomError("config_rules", "{count} rule(s) broken", {"problems": problems,
                                                                               "count": len(problems)})


def _web_address(value: str | None) -> str | None:
    parts = urlsplit(value or "")
    if value is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError("must be an http:// or https:// address")
    return value


class Agency(_Model):
    """One entry of sources.yaml: an agency and how its returns arrive."""

    id: str
    name: Text
    department: Text
    connector: Literal["file_drop", "http", "performance_platform"]
    format: Literal["csv", "xlsx", "json", "parquet", "extract"]
    mapping: Text
    return_due_day: int
    credential_env: str | None = None  # the NAME of the environment variable holding a credential, never its value
    location: str | None = None  # the folder under data/landing/ (default: the id)
    url: str | None = None  # http: the API's address, {month} (YYYY-MM) and {return} filled in per fetch
    pagination: Literal["none", "link", "next", "page"] = "none"  # http only

    @property
    def folder(self) -> str:
        return self.location or self.id

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not AGENCY_ID.fullmatch(value):
            raise ValueError("must be letters, digits and underscores")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None and (value in ("", ".", "..") or "/" in value or "\\" in value):
            raise ValueError("must be one folder name under data/landing/ (no '..', no '/')")
        return value

    @field_validator("return_due_day")
    @classmethod
    def _due_day(cls, value: int) -> int:
        if not 1 <= value <= 28:
            raise ValueError(f"must be a day from 1 to 28 (one that every month has), not {value}")
        if value >= CYCLE_DAY:
            raise ValueError(f"must be before day {CYCLE_DAY}, when the monthly cycle runs, not {value}")
        return value

    @field_validator("credential_env")
    @classmethod
    def _credential_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.fullmatch(value):  # the value is never repeated: it may be a secret
            raise ValueError("must be the name of an environment variable (capital letters, digits and _, such as "
                             "DVLA_API_TOKEN), never the credential itself")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        _web_address(value)
        if value is not None and not ("{month}" in value and "{return}" in value):
            raise ValueError("must contain {month} and {return}: each return of each month has its own address")
        return value

    @model_validator(mode="after")
    def _connector_rules(self) -> Agency:
        problems = []
        if self.connector == "http":
            if self.url is None:
                problems.append((("url",), "missing: an http agency needs the address of its API"))
            if self.format not in ("json", "csv"):
                problems.append((("format",), "an http agency's format is json or csv"))
            elif self.pagination == "next" and self.format != "json":
                problems.append((("pagination",), "next reads a field of a JSON body; use link or page for csv"))
        else:
            problems += [((key,), f"is read only for connector http, not {self.connector}")
                         for key in ("url", "pagination") if key in self.model_fields_set]
        if self.connector == "performance_platform" and self.format != "json":
            problems.append((("format",), "Performance-Platform records are json"))
        if self.folder in CENTRAL_FOLDERS:
            problems.append((("location" if self.location else "id",),
                             f"data/landing/{self.folder}/ holds the central team's files, not an agency's"))
        _raise_broken(problems)
        return self


class Registry(_Model):
    """sources.yaml: the agencies, each with its own id and its own folder."""

    agencies: list[Agency]

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        problems, ids, folders = [], {}, {}
        for index, agency in enumerate(self.agencies):
            if agency.id in ids:
                problems.append((("agencies", index, "id"), f"entries {ids[agency.id] + 1} and {index + 1} have "
                                                            "this id; each agency has its own"))
                continue
            ids[agency.id] = index
            if agency.folder in folders:
                problems.append((("agencies", index, "location" if agency.location else "id"),
                                 f"data/landing/{agency.folder}/ is already agency '{folders[agency.folder]}''s "
                                 "folder; each agency has its own"))
            folders.setdefault(agency.folder, agency.id)
        _raise_broken(problems)
        return self


class Unpivot(_Model):
    """Wide returns: a column per channel, made one row per channel, with the reported total checked."""

    value: Text  # the canonical column the channel columns' figures go to
    total: Text  # the column of the reported total
    columns: Annotated[dict[str, Channel], Field(min_length=1)]  # their column -> our channel


class ReturnLayout(_Model):
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
        if value is not None and (value in ("", ".", "..") or "/" in value or "\\" in value):
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
            _raise_broken([(("file",), "missing: a return needs a file (or, for transactions, an extract)")])
        return self


class Returns(_Model):
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
        _raise_broken(problems)
        return self


class Records(_Model):
    """Performance-Platform records: the publisher's service slugs and channel names, to ours."""

    services: Annotated[dict[str, Text], Field(min_length=1)]
    channels: dict[str, Channel] = {}


class MappingFile(_Model):
    """One file of mappings/: monthly returns, Performance-Platform records, or both."""

    returns: Returns | None = None
    records: Records | None = None

    @model_validator(mode="after")
    def _something_mapped(self) -> MappingFile:
        if self.returns is None and self.records is None:
            _raise_broken([(("returns",), "missing: a mapping has returns (monthly returns) or records "
                                          "(Performance-Platform records)")])
        return self


class RawArchive(_Model):
    superseded_keep_days: Count | None  # null: every archived version is kept


class RunHistory(_Model):
    keep_days: Count | None


class TemporaryFiles(_Model):
    keep_hours: Count | None


class Housekeeping(_Model):
    """housekeeping.yaml: how long superseded raw copies, run history and leftover temporary files are kept."""

    raw_archive: RawArchive
    run_history: RunHistory
    temporary_files: TemporaryFiles


class License(_Model):
    name: Text
    path: str
    title: Text

    _path = field_validator("path")(_web_address)


class PackageSource(_Model):
    title: Text


class Package(_Model):
    """The data package's own description (datapackage.json), in the order it is written."""

    name: Text
    title: Text
    description: Text
    homepage: str
    licenses: Annotated[list[License], Field(min_length=1)]
    sources: list[PackageSource]

    _homepage = field_validator("homepage")(_web_address)


class TableMeta(_Model):
    title: Text
    description: Text | None = None
    primary_key: list[str] | None = None


class FieldMeta(_Model):
    description: Text
    unit: Text | None = None


class OpenData(_Model):
    """open_data.yaml: what the package, each published table and each column mean."""

    package: Package
    tables: dict[str, TableMeta]
    fields: dict[str, FieldMeta]

    @model_validator(mode="after")
    def _keys_described(self) -> OpenData:
        _raise_broken([(("tables", name, "primary_key"), f"{column} is not described under fields")
                       for name, table in self.tables.items() for column in table.primary_key or []
                       if column not in self.fields])
        return self


class Config(_Model):
    """Everything in config/, with the rules that span files: each agency's mapping exists and fits its connector."""

    registry: Registry
    mappings: dict[str, MappingFile]
    housekeeping: Housekeeping
    open_data: OpenData

    @property
    def agencies(self) -> list[Agency]:
        return self.registry.agencies

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def mapping(self, agency: Agency) -> MappingFile:
        return self.mappings[agency.mapping]

    def layout(self, agency: Agency, return_type: str) -> ReturnLayout:
        """The layout of one return type of an agency (a file-drop or http agency has all three)."""
        return getattr(self.mappings[agency.mapping].returns, return_type)

    @model_validator(mode="after")
    def _mappings_fit(self) -> Config:
        problems = []
        for index, agency in enumerate(self.agencies):
            key, mapping = ("registry", "agencies", index, "mapping"), self.mappings.get(agency.mapping)
            if mapping is None:
                problems.append((key, f"there is no mappings/{agency.mapping}.yaml"))
            elif agency.connector == "performance_platform" and mapping.records is None:
                problems.append((key, f"mapping '{agency.mapping}' has no records, which a performance_platform "
                                      "agency sends"))
            elif agency.connector != "performance_platform" and mapping.returns is None:
                problems.append((key, f"mapping '{agency.mapping}' has no returns, which a {agency.connector} "
                                      "agency sends"))
            elif agency.connector == "http":
                extracts = [t for t in RETURN_TYPES if getattr(mapping.returns, t).file is None]
                if extracts:
                    problems.append((key, f"mapping '{agency.mapping}' names no file for {', '.join(extracts)}: an "
                                          "http agency's returns are fetched into the files its mapping names"))
        _raise_broken(problems)
        return self


MODELS = (Agency, Registry, Unpivot, ReturnLayout, Returns, Records, MappingFile, RawArchive, RunHistory,
          TemporaryFiles, Housekeeping, License, PackageSource, Package, TableMeta, FieldMeta, OpenData, Config)
