"""What a run would make of one file, before it is dropped: `preview_file` reads the file through the registry and
the agency's mapping with staging's own code (the readers and their guards, normalising, the row rules, the
catalogue's validation), builds the facts and KPI tables from it in a DuckDB held in memory (the same SQL as a
run), and returns a typed `Preview`. It writes nothing: no warehouse, no archive, no file under data/.
`render` prints it for people (`python -m pipelines preview <agency> <file>`); the submission portal calls
`preview_file` with an uploaded file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipelines.lib.config import Config


class Result(BaseModel):
    """A part of a preview: frozen, unknown keys refused (the portal serialises it as it is)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Recognised(Result):
    """A return (or the agency's catalogue) whose `file` pattern the file's name matches."""

    return_type: str  # transactions, costs, satisfaction or service_catalogue
    pattern: str  # the mapping's `file` that matched
    layout: str  # how it is read: canonical, unpivot, headers, series


class ColumnUse(Result):
    """A column of the file and what the mapping does with it."""

    column: str
    use: str  # what it becomes (service_id, period, channel online, total, cost per transaction...) or "ignored"


class RuleCount(Result):
    return_type: str
    rule: str
    rows: int  # rows of the file that broke it (the first rule a row broke)
    meaning: str  # the rule in plain words


class QuarantinedRow(Result):
    """A row the run would quarantine: its fields equal the run's `quarantine` row for the same file (the first
    `files.max_quarantine_rows_per_rule` of a rule, then one standing for the rest)."""

    return_type: str
    source_file: str  # as the run names it: <agency folder>/<YYYY-MM>/<file name>
    row_number: int | None  # 1 = the first row under the header; None: the whole file
    service_id: str | None  # the row's service, where it has one
    period: str | None  # the row's period as sent, where it has exactly one
    column_name: str | None
    offending_value: str | None
    rule: str
    message: str
    rows_represented: int


class KpiOutcome(Result):
    """One KPI of one service: in how many of its periods it is formed (computed or as reported), and why not."""

    kpi: str  # digital_take_up, cost_per_transaction, completion_rate, user_satisfaction
    periods_formed: int
    periods: int
    why_not: str | None  # the first reason a period has no figure (missing_inputs, or what is absent)


class ServiceOutcome(Result):
    service_id: str
    service_name: str | None
    periods: list[str]  # the periods accepted, as named on the pages (Q1 2016, 2018-19, 12 months to Sep 2017)
    kpis: list[KpiOutcome]


class KpiGap(Result):
    """A KPI that could not be formed for most services of the source (the run ends with the same warning)."""

    agency_id: str
    kpi: str
    services_affected: int
    services: int  # services with accepted rows
    reason: str
    fix: str


class Preview(Result):
    """What a run would make of one file."""

    agency_id: str
    file_name: str
    source_file: str  # as the run would name it
    month: dt.date  # the return's month (its folder)
    recognised: list[Recognised]
    problem: str | None  # why nothing could be read (no mapping reads the name, the file is unreadable...)
    columns: list[ColumnUse]
    services: list[str]  # services with accepted rows
    periods: list[str]  # periods with accepted rows, in order
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rules: list[RuleCount]
    quarantined: list[QuarantinedRow]
    outcomes: list[ServiceOutcome]
    gaps: list[KpiGap]
    suspicious: list[str]

    @property
    def publishes(self) -> bool:
        """Whether any service would get any KPI figure from this file."""
        return any(k.periods_formed for o in self.outcomes for k in o.kpis)


def preview_file(config: Config, agency_id: str, path: Path, month: dt.date | None = None, *,
                 name: str | None = None, landing: Path | None = None) -> Preview:
    """What a run would make of the file at `path`, sent by `agency_id` for `month` (the first of the month of its
    folder; None: the file's folder, which must be named YYYY-MM). `name`: its submitted name (default the path's);
    `landing`: a landing folder whose central catalogue (catalogue/services.csv) is read as the run would read it
    (None: no central catalogue). Raises ValueError for an agency the registry does not have."""
    raise NotImplementedError


def render(preview: Preview) -> str:
    """The preview as text for a terminal."""
    raise NotImplementedError
