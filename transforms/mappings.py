"""The typed mapping of config/mappings/*.yaml: how an agency's files become the canonical returns. One model per
concept, each with unknown keys forbidden, validated when the configuration is loaded (`pipelines/lib/config/`
reads the YAML into `MappingFile`) and read, as these models, by normalising (`transforms/normalising.py`,
`transforms/layouts.py`), the readers and the records' validation.

`Model`, `Text`, `raise_broken` and `one_name` are shared with the rest of the configuration's models, which stay in
`pipelines/lib/config/`: only the pipeline reads them."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from transforms.canonical import COLUMNS, NUMERIC
from transforms.domain import CHANNELS, RETURN_TYPES
from transforms.layouts import MEASURE_TARGETS, REPORTED_COLUMNS, header_columns, header_pattern

Text = Annotated[str, Field(min_length=1)]
Channel = Literal[CHANNELS]
RECORDS_KEY = "data"  # where a JSON object keeps its list of records, unless a return's layout says otherwise


class Model(BaseModel):
    """A configuration model: unknown keys are an error (a typo never passes silently) and it never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def raise_broken(problems: list[tuple[tuple, str]]) -> None:
    """Report a model's broken cross-field rules together, each with the key (relative to the model) it is about."""
    if problems:
        raise PydanticCustomError("config_rules", "{count} rule(s) broken", {"problems": problems,
                                                                               "count": len(problems)})


def one_name(value: str) -> bool:
    """A name that is one path part (a folder under data/landing/, a file in a month's folder), never a path."""
    return value not in ("", ".", "..") and "/" not in value and "\\" not in value


class Unpivot(Model):
    """Wide returns: a column per channel, made one row per channel, with the reported total (if any) checked."""

    value: Text  # the canonical column the channel columns' figures go to
    total: Text | None = None  # the column of the reported total; none: the channels are all there is
    columns: Annotated[dict[str, Channel], Field(min_length=1)]  # their column -> our channel
    # a channel several columns go to -> how they are added up: `sum` (not provided if any part is not provided),
    # `sum_provided` (the parts provided; not provided only if none is). A part marked not applicable adds nothing;
    # a part a file lacks is left out (a layout before the split), but a file with no part of it is refused.
    combine: dict[Channel, Literal["sum", "sum_provided"]] = {}

    @model_validator(mode="after")
    def _one_rule_per_target(self) -> Unpivot:
        problems = []
        for channel in dict.fromkeys(self.columns.values()):
            parts = [column for column, target in self.columns.items() if target == channel]
            if len(parts) > 1 and channel not in self.combine:
                problems.append((("columns",), f"{', '.join(parts)} all go to {channel!r}: say how they are added "
                                               f"up with combine: {{{channel}: sum}} (or sum_provided)"))
        problems += [(("combine", channel), "no column goes to this channel")
                     for channel in self.combine if channel not in self.columns.values()]
        raise_broken(problems)
        return self


class HeaderFamily(Model):
    """Columns whose headers carry the period and the measure, read by a pattern of named parts."""

    pattern: Text  # e.g. "{period} {measure}", "{period}: {measure}", "{measure}\n{period}"
    measures: Annotated[dict[str, Text], Field(min_length=1)]  # their label -> a channel, total or a reported KPI
    period_months: Annotated[int, Field(ge=0, le=120)] = 0  # the header names the last part of so many months

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        header_pattern(value, ["x"])  # raises ValueError naming what is wrong
        return value

    @field_validator("measures")
    @classmethod
    def _measures(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({t for t in value.values() if t not in MEASURE_TARGETS})
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: a measure is one of {', '.join(MEASURE_TARGETS)}")
        return value


class ChannelsOffered(Model):
    """What the return says about the channels each service offers, for the period of its row: a column listing
    them (codes separated by `separator`), or each channel's own cell (`markers`: a channel marked not applicable is
    not offered; one marked `ambiguous` leaves the whole list unknown), or both (the column where a file has it)."""

    column: Text | None = None
    separator: Text = ","
    values: dict[str, Channel] = {}  # their code -> our channel (a code not listed is not a channel)
    unknown: list[str] = []  # cell values that say nothing (e.g. ND): whether a channel is offered is unknown
    markers: bool = False  # unpivot layouts: from each channel's cell, where the file has no `column`

    @model_validator(mode="after")
    def _said_somewhere(self) -> ChannelsOffered:
        if self.column is None and not self.markers:
            raise_broken([(("column",), "missing: the channels offered are read from a column or from the "
                                        "channels' markers (markers: true)")])
        return self


class DerivedId(Model):
    """`service_id: {from: service_name}`: a publisher that names its services only; the id is derived from the
    name (`transforms.layouts.service_id_from`) and the name is kept as service_name."""

    source: Literal["service_name"] = Field(alias="from")  # the column (after renames) the id is derived from
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9-]*$")] = ""  # e.g. "uk-": keeps one publisher's ids apart
    # from another's that names a service alike


class Series(Model):
    """JSON keeping one series per measure (`{datasets: [{id, data: [{label, value}]}]}`): one record per period."""

    datasets: Text = "datasets"  # the key of the document's list of series
    name: Text = "id"  # a series' name: the column its values go to
    points: Text = "data"  # a series' list of points
    period: Text = "label"  # a point's period
    value: Text = "value"  # a point's value (null: not provided)
    keep: list[Text] = []  # keys of the document carried onto every record (the service's name)
    percent: list[Text] = []  # series given in percent (0..100), read as shares (0..1)


class ReturnLayout(Model):
    """How one return of an agency is laid out: its file and what turns it into the canonical columns."""

    file: str | None  # the file's name in the month's folder, or a pattern (*_services.csv, {fiscal_year}_x.csv)
    extract: Text | None = None  # transactions only: a glob of transaction-level extract files
    sheet: Text | None = None  # XLSX: the sheet (else the first)
    delimiter: str | None = None  # CSV: else guessed from the header
    encoding: str = "utf-8"  # the text's encoding, as Python names it (cp1252, utf-16)
    records_key: Text = RECORDS_KEY  # JSON: where an object keeps its list of records
    series: Series | None = None  # JSON: a document of series, one per measure, made one record per period
    rename: dict[str, Text] = {}  # their column -> ours
    service_id: DerivedId | None = None  # the id derived from the service's name (names-only publishers)
    values: dict[str, dict[str, str]] = {}  # our column -> their label -> ours
    not_provided: list[str] = []  # markers of a figure that was not provided
    not_applicable: list[str] = []  # markers of a figure that does not apply (a channel not offered)
    ambiguous: list[str] = []  # markers that mean "not offered" or "not reported", nobody says which
    channels_offered: ChannelsOffered | None = None  # the return says which channels a service offers
    headers: list[HeaderFamily] = []  # header-encoded layouts: period and measure in each column name
    history: bool = False  # the file holds every period up to its month (a publisher's cumulative spreadsheet)
    unnamed_columns: Literal["error", "number"] = "error"  # number: empty or repeated header names are kept as
    # "(column N)" (a spreadsheet's check columns), instead of the file being refused
    thousands: Text | None = None  # a thousands separator to drop
    scale: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = {}  # e.g. cost_gbp: 1000
    month_format: Text | None = None  # a strptime format for the month column
    # financial_year: the periods are financial years, so "2011-12" is April 2011 to March 2012, not December 2011
    period_grain: Literal["month", "financial_year"] = "month"
    unpivot: Unpivot | None = None  # wide returns: a column per channel

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


class CatalogueLayout(Model):
    """The agency's services read from one of its own files (a publisher's spreadsheet describes them)."""

    file: Text  # a name or a pattern, as for a return
    encoding: str = "utf-8"
    delimiter: str | None = None
    rename: Annotated[dict[str, Text], Field(min_length=1)]  # their column -> service_id, service_name, ...
    service_id: DerivedId | None = None  # as for a return: the id derived from the service's name
    channels_offered: ChannelsOffered | None = None  # the channels offered as the file writes them (codes)
    defaults: dict[str, str] = {}  # a value for a catalogue column the file does not have
    not_provided: list[str] = []  # markers of a value that was not provided (the cell is read as empty)
    unnamed_columns: Literal["error", "number"] = "error"  # as for a return
    # Not keys of the mapping: a catalogue is read as a return's file is by default (the first sheet of a workbook,
    # the records under `data` of a JSON object, no series), so the readers read either layout alike.
    sheet: ClassVar[None] = None
    records_key: ClassVar[str] = RECORDS_KEY
    series: ClassVar[None] = None

    @model_validator(mode="after")
    def _one_id(self) -> CatalogueLayout:
        problems = []
        if self.service_id is not None and "service_id" in self.rename.values():
            problems.append((("service_id",), "the id is derived from the name or renamed from a column, not both"))
        if self.channels_offered is not None and "channels_offered" in self.rename.values():
            problems.append((("channels_offered",), "the channels offered are read by their codes or renamed from a "
                                                    "column, not both"))
        raise_broken(problems)
        return self


class Returns(Model):
    """The three monthly returns of an agency that sends returns, and optionally its services."""

    transactions: ReturnLayout
    costs: ReturnLayout
    satisfaction: ReturnLayout
    catalogue: CatalogueLayout | None = None
    # A fact about a service that both the central catalogue and this agency's files give (name, department, agency,
    # channels offered): `catalogue` takes the central catalogue's, `return` the agency's own (for channels offered,
    # the return's statement for each period).
    service_facts: Literal["catalogue", "return"] = "catalogue"

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
            read = _columns_read(return_type, layout)
            problems += [((return_type, "rename", theirs), f"{ours!r} is not a column of {return_type} "
                          f"({', '.join(COLUMNS[return_type])}) nor one this layout reads, so the renamed column "
                          "would be ignored")
                         for theirs, ours in layout.rename.items()
                         if ours not in read and not header_columns([ours], layout.headers)]
            if layout.service_id is not None and "service_id" in layout.rename.values():
                problems.append(((return_type, "service_id"), "the id is derived from the name or renamed from a "
                                                              "column, not both"))
            if layout.headers and return_type != "transactions":
                problems.append(((return_type, "headers"), "only transactions are read from header-encoded "
                                                          "columns"))
            if layout.headers and layout.unpivot is not None:
                problems.append(((return_type, "headers"), "a layout is read by headers or by unpivot, not both"))
            if layout.unpivot is not None and layout.unpivot.value not in figures:
                problems.append(((return_type, "unpivot", "value"),
                                 f"must be a figure of {return_type} ({', '.join(figures)})"))
            problems += [((return_type, "rename", theirs), f"{', '.join(parts)} are all renamed to {ours!r}: one "
                          "column goes to a target (columns added up are an unpivot with combine)")
                         for ours, parts in _renamed_together(layout.rename).items() for theirs in parts[1:]]
            if layout.channels_offered and layout.channels_offered.markers and layout.unpivot is None:
                problems.append(((return_type, "channels_offered", "markers"), "reads the channels' own cells: "
                                                                               "only a layout with unpivot has them"))
        if self.catalogue is not None:
            problems += [(("catalogue", "rename", theirs), f"{', '.join(parts)} are all renamed to {ours!r}: one "
                          "column goes to a target")
                         for ours, parts in _renamed_together(self.catalogue.rename).items() for theirs in parts[1:]]
        raise_broken(problems)
        return self


def _renamed_together(rename: dict[str, str]) -> dict[str, list[str]]:
    """Targets that several of their columns are renamed to, with those columns (an identity rename, a column kept
    under its own name, counts as one)."""
    targets: dict[str, list[str]] = {}
    for theirs, ours in rename.items():
        targets.setdefault(ours, []).append(theirs)
    return {ours: parts for ours, parts in targets.items() if len(parts) > 1}


def _columns_read(return_type: str, layout: ReturnLayout) -> set[str]:
    """The columns staging reads from a return after its renames: the canonical ones, what the layout names (its
    unpivot's channel and total columns, its channels-offered column) and, for transactions, the figures a
    publisher reports for the whole service."""
    named = [*(layout.unpivot.columns if layout.unpivot else ()), *([layout.unpivot.total] if layout.unpivot else []),
             *([layout.channels_offered.column] if layout.channels_offered and layout.channels_offered.column
               else []),
             *([layout.service_id.source] if layout.service_id else [])]
    reported = REPORTED_COLUMNS if return_type == "transactions" else ()
    return {*COLUMNS[return_type], *named, *reported}


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


# A file read and normalised as it was sent, under any name: nothing renamed, marked or scaled. The central team's
# files (the catalogue, the benefits register), which no agency's mapping describes, are read so.
AS_SENT = ReturnLayout(file="*")
