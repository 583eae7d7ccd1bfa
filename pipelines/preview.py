"""What a run would make of one file, before it is dropped: `preview_file` reads the file through the registry and
the agency's mapping with staging's own code (the readers and their guards, normalising, the row rules, the
catalogue's validation), builds the facts and KPI tables from it in a DuckDB held in memory (the same SQL as a
run), and returns a typed `Preview`. It writes nothing: no warehouse, no archive, no file under data/.
`render` prints it for people (`python -m pipelines preview <agency> <file>`); the submission portal calls
`preview_file` with an uploaded file."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict

from pipelines.defs.staging.agencies import agency_rows
from pipelines.defs.staging.passes import file_failure
from pipelines.defs.staging.readers import read_table
from pipelines.defs.staging.reference import catalogue_layouts, catalogue_validator, in_catalogue_order
from pipelines.defs.staging.returns import stage_part
from pipelines.defs.staging.unrecognised import MONTH_FOLDER, not_recognised
from pipelines.lib.config import Config
from pipelines.lib.files import CENTRAL_FILES, sha256_file
from pipelines.lib.warehouse import bootstrap, rebuild_table, replace_months
from transforms import sql
from transforms.canonical import COLUMNS, FILE, ROW, SHAPE
from transforms.catalogue import CATALOGUE, reads
from transforms.domain import RETURN_TYPES
from transforms.layouts import REPORTED, header_columns, matches_file
from transforms.mappings import AS_SENT
from transforms.periods import parse_period
from transforms.staging import normalise

# The tables a run builds from the staged returns up to kpi_formation and kpis_not_formed, in catalogue order.
OUTCOME = ("kpis_not_formed",)
NUMBER = r"^-?\d+(\.\d+)?$"  # a cell holding a number, once spaces and separators are dropped
STAGED = ("stg_agencies", "stg_service_catalogue", *(f"stg_{t}" for t in RETURN_TYPES))


class Result(BaseModel):
    """A part of a preview: frozen, unknown keys refused (the portal serialises it as it is)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Recognised(Result):
    """A return (or the agency's catalogue) whose `file` pattern the file's name matches."""

    return_type: str  # transactions, costs, satisfaction or service_catalogue
    pattern: str  # the mapping's `file` that matched
    layout: str  # how it is read: canonical, unpivot, headers, series ("series and headers" when both)


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

    kpi: str  # digital_take_up, cost_per_transaction, completion_rate
    periods_formed: int
    periods: int
    why_not: str | None  # the first reason a period has no figure (missing_inputs, or what is absent)


class ServiceOutcome(Result):
    service_id: str
    service_name: str | None
    periods: list[str]  # the periods accepted, as named on the pages (Q1 2016, 2018-19, 12 months to Sep 2017)
    kpis: list[KpiOutcome]


class Figure(Result):
    """A service's whole-service figures for a month as the run's `kpi_cost_per_transaction` gives them (channel
    `all`): what the portal compares with the last published month."""

    service_id: str
    month: dt.date
    transactions_completed: int | None
    cost_per_transaction_gbp: float | None


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
    figures: list[Figure] = []

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
    agency = config.agency(agency_id)
    if agency is None:
        raise ValueError(f"the registry has no agency {agency_id!r} ({', '.join(a.id for a in config.agencies)})")
    name = name or path.name
    if month is None:
        if not MONTH_FOLDER.fullmatch(path.parent.name):
            raise ValueError(f"the file's folder {path.parent.name!r} is not a month (YYYY-MM): give the month")
        month = dt.date.fromisoformat(f"{path.parent.name}-01")
    source_file = f"{agency.folder}/{month:%Y-%m}/{name}"
    sha = sha256_file(path)
    returns = config.mapping(agency).returns
    recognised = _recognised(config, agency, name)
    empty = dict(agency_id=agency_id, file_name=name, source_file=source_file, month=month, recognised=recognised,
                 columns=[], services=[], periods=[], rows_read=0, rows_accepted=0, rows_quarantined=0, rules=[],
                 quarantined=[], outcomes=[], gaps=[], suspicious=[])
    if not recognised:
        return Preview(**empty, problem=not_recognised(source_file, sha, agency_id, month, config.mapping(agency))[
            "message"])
    try:
        frame = read_table(path, config.layout(agency, recognised[0].return_type) if recognised[0].return_type
                           in RETURN_TYPES else returns.catalogue, name, config.limits.files)
    except Exception as error:  # noqa: BLE001 - the run sets such a file aside whole with this reason
        return Preview(**empty, problem=file_failure(source_file, error)["message"][0])

    catalogue, quarantined = _catalogue(config, agency_id, path, name, source_file, sha, landing)
    con = duckdb.connect()  # in memory: nothing is written anywhere
    bootstrap(con)
    con.executemany(f"INSERT INTO stg_agencies VALUES ({', '.join('?' * 7)})", agency_rows(config))
    con.register("catalogue_frame", catalogue)
    con.execute("INSERT INTO stg_service_catalogue BY NAME SELECT * FROM catalogue_frame")
    rows, rule_rows, staged_rows, warnings = {}, Counter(), [], []
    for return_type in (r.return_type for r in recognised if r.return_type in RETURN_TYPES):
        part = [((source_file, sha, agency_id, month), (source_file, path, config.layout(agency, return_type),
                                                         agency.mapping))]
        accepted, listing, accounting, counts, said = stage_part(
            config, return_type, catalogue.select("service_id", "agency_id", "channels_offered", "live_from"), part)
        warnings += [w for w in said if w not in warnings]
        rows[return_type] = accounting[0]
        rule_rows.update({(return_type, rule): n for rule, n in counts.items()})
        quarantined += _quarantined(listing, return_type, frame, config.layout(agency, return_type))
        if accepted is not None and accepted.height:
            con.register("accepted_frame", accepted)
            con.execute(f"INSERT INTO stg_{return_type} BY NAME SELECT * FROM accepted_frame")
            staged_rows.append(return_type)
    if staged_rows:
        _build_outcomes(con)
    meanings = {(q.return_type, q.rule): q.message for q in reversed(quarantined)}
    main = rows.get("transactions") or next(iter(rows.values()), {"rows_read": 0, "rows_accepted": 0,
                                                                 "rows_quarantined": 0})
    return Preview(**{
        **empty, "problem": None, "rows_read": main["rows_read"], "rows_accepted": main["rows_accepted"],
        "rows_quarantined": main["rows_quarantined"], "columns": _columns(frame, config, agency, recognised),
        "rules": [RuleCount(return_type=t, rule=r, rows=n, meaning=meanings.get((t, r), r))
                  for (t, r), n in sorted(rule_rows.items())],
        "quarantined": quarantined, **(_found(con, frame, config, agency, recognised, rule_rows, warnings)
                                       if staged_rows else {})})


def _found(con, frame: pl.DataFrame, config: Config, agency, recognised: list[Recognised], rules: Counter,
           warnings: list[str]) -> dict:
    """The services, periods, KPI outcomes, whole-service figures, gaps and suspicious things of the staged rows in
    `con`."""
    return {
        "services": [r[0] for r in con.execute("SELECT DISTINCT service_id FROM stg_transactions ORDER BY 1")
                     .fetchall()],
        "periods": [r[0] for r in con.execute(
            "SELECT period_name(grain, period_start, period_end) FROM stg_transactions "
            "GROUP BY ALL ORDER BY max(period_end), max(period_start)").fetchall()],
        "outcomes": _outcomes(con),
        "figures": [Figure(service_id=s, month=m, transactions_completed=t, cost_per_transaction_gbp=c)
                    for s, m, t, c in con.execute(
                        "SELECT service_id, month, transactions_completed, cost_per_transaction_gbp "
                        "FROM kpi_cost_per_transaction WHERE channel = 'all' ORDER BY service_id, month").fetchall()],
        "gaps": [KpiGap(agency_id=a, kpi=k, services_affected=n, services=m, reason=r, fix=f)
                 for a, k, n, m, r, f in con.execute("SELECT * FROM kpis_not_formed").fetchall()],
        "suspicious": warnings + _suspicious(con, frame, config, agency, recognised, rules)}


def _recognised(config: Config, agency, name: str) -> list[Recognised]:
    returns = config.mapping(agency).returns
    if returns is None:
        return []
    found = []
    for return_type in RETURN_TYPES:
        layout = getattr(returns, return_type)
        if layout.file and matches_file(layout.file, name):
            kind = [k for k, used in (("series", layout.series), ("headers", layout.headers),
                                      ("unpivot", layout.unpivot)) if used]
            found.append(Recognised(return_type=return_type, pattern=layout.file,
                                    layout=" and ".join(kind) or "canonical"))
    if returns.catalogue and matches_file(returns.catalogue.file, name):
        found.append(Recognised(return_type="service_catalogue", pattern=returns.catalogue.file, layout="catalogue"))
    return found


def _catalogue(config: Config, agency_id: str, path: Path, name: str, source_file: str, sha: str,
               landing: Path | None) -> tuple[pl.DataFrame, list[QuarantinedRow]]:
    """The services the run would know: the central catalogue (from `landing`) and the agency's own file, read and
    validated by staging's catalogue validator in the run's order; and the rows it would quarantine of this file."""
    validator, layouts = catalogue_validator(config), catalogue_layouts(config)
    central, own = landing / CENTRAL_FILES["service_catalogue"] if landing else None, []
    central = [(central, CENTRAL_FILES["service_catalogue"], None, AS_SENT)] if central and central.is_file() else []
    if agency_id in layouts and matches_file(layouts[agency_id].file, name):
        own.append((path, source_file, agency_id, layouts[agency_id]))
    files = in_catalogue_order(config, central, own)
    accepted, quarantined = [], []
    for file, source, owner, layout in files:
        frame = read_table(file, layout, source, config.limits.files).with_columns(pl.lit(source).alias(FILE))
        good, bad = validator(frame, None, owner)
        accepted.append(good)
        if owner is not None:
            quarantined += [QuarantinedRow(return_type="service_catalogue", source_file=source_file,
                                           row_number=r["row_number"], service_id=None, period=None,
                                           column_name=r["column_name"], offending_value=r["offending_value"],
                                           rule=r["rule"], message=r["message"], rows_represented=1)
                            for r in bad.iter_rows(named=True)]
    with duckdb.connect() as con:  # the staged table's columns and types, as the run writes them
        bootstrap(con)
        shape = con.sql("SELECT * FROM stg_service_catalogue LIMIT 0").pl()
    frame = pl.concat([shape, *(a.select([c for c in shape.columns if c in a.columns]) for a in accepted)],
                      how="diagonal_relaxed")
    return frame.select(shape.columns), quarantined


def _quarantined(listing: pl.DataFrame, return_type: str, frame: pl.DataFrame, layout) -> list[QuarantinedRow]:
    """The quarantine rows as listed, with the service and the period of each row where the file has them."""
    named = _row_names(frame, layout, return_type)
    return [QuarantinedRow(return_type=return_type, source_file=r["source_file"], row_number=r["row_number"],
                           service_id=named.get(r["row_number"], (None, None))[0],
                           period=named.get(r["row_number"], (None, None))[1], column_name=r["column_name"],
                           offending_value=r["offending_value"], rule=r["rule"], message=r["message"],
                           rows_represented=r["rows_represented"])
            for r in listing.iter_rows(named=True)]


def _row_names(frame: pl.DataFrame, layout, return_type: str) -> dict[int, tuple[str | None, str | None]]:
    """Row number -> (service, the period as sent where the row has exactly one) from the normalised file."""
    try:
        normalised = normalise(frame.with_columns(pl.lit("").alias(FILE)), layout, return_type)
    except Exception:  # noqa: BLE001 - a file its layout cannot normalise is quarantined whole: no rows to name
        return {}
    rows = normalised.group_by(ROW, maintain_order=True).agg(pl.col("service_id").drop_nulls().first(),
                                                              pl.col("month").drop_nulls().unique())
    return {n: (s, m[0] if len(m) == 1 else None) for n, s, m in rows.iter_rows()}


def _build_outcomes(con) -> None:
    """Build, in memory, every table between the staged returns and kpis_not_formed, in catalogue order, by the
    same SQL as a run."""
    needed, todo = set(), list(OUTCOME)
    while todo:
        name = todo.pop()
        if name not in needed and name not in STAGED and CATALOGUE[name].build in ("sql", "months"):
            needed.add(name)
            todo += [n for n in reads(CATALOGUE[name]) if n in CATALOGUE]
    first, last = con.execute("SELECT min(month), max(month) FROM (SELECT month FROM stg_transactions UNION ALL "
                              "SELECT month FROM stg_costs UNION ALL SELECT month FROM stg_satisfaction)").fetchone()
    for table in (t for t in CATALOGUE.values() if t.name in needed):
        if table.build == "months":
            replace_months(con, table.name, sql(table.name), first, dt.date(last.year + last.month // 12,
                                                                              last.month % 12 + 1, 1))
        else:
            rebuild_table(con, table.name, sql(table.name))


def _outcomes(con) -> list[ServiceOutcome]:
    rows = con.execute("""
        SELECT f.service_id, any_value(c.service_name), f.kpi, count(*) FILTER (WHERE f.formed), count(*),
            min(f.why_not), list(DISTINCT period_name(s.grain, s.period_start, s.period_end)
                                 ORDER BY period_name(s.grain, s.period_start, s.period_end))
        FROM kpi_formation AS f
        JOIN (SELECT DISTINCT service_id, grain, period_start, period_end FROM stg_transactions) AS s
            USING (service_id, grain, period_start)
        LEFT JOIN stg_service_catalogue AS c USING (service_id)
        GROUP BY f.service_id, f.kpi ORDER BY f.service_id, f.kpi""").fetchall()
    services: dict[str, ServiceOutcome] = {}
    for service, service_name, kpi, formed, periods, why_not, names in rows:
        outcome = services.setdefault(service, ServiceOutcome(service_id=service, service_name=service_name,
                                                              periods=names, kpis=[]))
        outcome.kpis.append(KpiOutcome(kpi=kpi, periods_formed=formed, periods=periods,
                                       why_not=None if formed == periods else why_not))
    return list(services.values())


def _columns(frame: pl.DataFrame, config: Config, agency, recognised: list[Recognised]) -> list[ColumnUse]:
    """Each column of the file and what the agency's mapping does with it, for each return it was recognised as."""
    returns, types = config.mapping(agency).returns, [r.return_type for r in recognised]
    uses: dict[str, list[str]] = {c: [] for c in frame.columns if c not in (ROW, SHAPE, FILE)}
    for return_type in (t for t in RETURN_TYPES if t in types):
        layout = getattr(returns, return_type)
        renamed = layout.rename
        for column in uses:
            ours = renamed.get(column, column)
            if layout.unpivot and column in layout.unpivot.columns:
                uses[column].append(f"{return_type}: {layout.unpivot.value}, channel {layout.unpivot.columns[column]}")
            elif layout.unpivot and column == layout.unpivot.total:
                uses[column].append(f"{return_type}: the reported total")
            elif layout.channels_offered and ours == layout.channels_offered.column:
                uses[column].append(f"{return_type}: the channels offered")
            elif column in renamed or ours in COLUMNS[return_type]:
                uses[column].append(f"{return_type}: {'period' if ours == 'month' else ours}")
        for column, (period, target, months) in header_columns(list(uses), layout.headers).items():
            measure = f"channel {target}" if target not in REPORTED else "the reported total" if target == "total" \
                else f"the reported {target}"
            uses[column].append(f"{return_type}: {measure}, {period}" + (f" (the {months} months to it)"
                                                                         if months else ""))
    if "service_catalogue" in types:
        for column, ours in returns.catalogue.rename.items():
            if column in uses:
                uses[column].append(f"catalogue: {ours}")
    return [ColumnUse(column=c, use="; ".join(dict.fromkeys(u)) or "ignored") for c, u in uses.items()]


def _suspicious(con, frame: pl.DataFrame, config: Config, agency, recognised: list[Recognised],
                rules: Counter) -> list[str]:
    """What a person should look at before the first run, in words."""
    found = []
    for months, label, count in con.execute("""
            SELECT datediff('month', period_start, period_end) + 1 AS months,
                min(period_name(grain, period_start, period_end)), count(DISTINCT service_id)
            FROM stg_transactions WHERE months NOT IN (1, 3, 12) GROUP BY ALL ORDER BY ALL""").fetchall():
        found.append(f"a period of {months} months ({label}, {count} services): a month, a quarter or a year was "
                     "expected; if its label is a typo, correct it with the mapping's rename")
    layout = config.layout(agency, "transactions")
    last: dict[str, dt.date] = {}  # per header family and measure, the end of the period of the column before
    for column, (period, _, _) in header_columns(frame.columns, layout.headers).items():
        read = parse_period(period, layout.period_grain == "financial_year") if period else None
        if read is None:
            continue
        family = column.replace(period, "{period}")
        if family in last and read[1] < last[family]:
            found.append(f"the column {column!r} names a period ending before the column to its left: a label out "
                         "of sequence (a typo?)")
        last[family] = read[1]
    for (return_type, rule), n in sorted(rules.items()):
        if rule in ("digital_above_total", "channels_do_not_sum_to_total"):
            found.append(f"{n} figures of {return_type} quarantined as a total below its channels ({rule})")
    ignored = [u.column for u in _columns(frame, config, agency, recognised) if u.use == "ignored"]
    numbers = [c for c in ignored if (frame.get_column(c).drop_nulls().str.replace_all(r"[,\s]", "")
                                      .str.contains(NUMBER).mean() or 0) >= 0.5]
    if numbers:
        found.append(f"the mapping reads none of {len(numbers)} column(s) holding numbers: "
                     + ", ".join(numbers[:10]) + (" ..." if len(numbers) > 10 else ""))
    return found


EXAMPLES = 5  # quarantined rows shown per rule


def render(preview: Preview) -> str:
    """The preview as text for a terminal."""
    lines = [f"{preview.source_file} (agency {preview.agency_id}, month {preview.month:%Y-%m})"]
    lines += [f"recognised as {r.return_type} (file pattern {r.pattern!r}, read by {r.layout})"
              for r in preview.recognised]
    if preview.problem:
        return "\n".join([*lines, f"nothing would be published: {preview.problem}"])
    lines.append("columns:")
    lines += [f"  {c.column!r}: {c.use}" for c in preview.columns]
    lines.append(f"services: {len(preview.services)}; periods: {', '.join(preview.periods) or 'none'}")
    lines.append(f"rows: {preview.rows_read} read, {preview.rows_accepted} accepted, {preview.rows_quarantined} "
                 "quarantined")
    for rule in preview.rules:
        lines.append(f"  {rule.return_type} {rule.rule}: {rule.rows} ({rule.meaning})")
        examples = [q for q in preview.quarantined if (q.return_type, q.rule) == (rule.return_type, rule.rule)]
        lines += [f"    row {q.row_number}, service {q.service_id or '-'}, period {q.period or '-'}, column "
                  f"{q.column_name or '-'}, value {q.offending_value!r}" for q in examples[:EXAMPLES]]
    formed = Counter((k.kpi, k.periods_formed > 0) for o in preview.outcomes for k in o.kpis)
    lines.append("KPIs (services with a figure in at least one period, of all services):")
    for kpi in sorted({k for k, _ in formed}):
        lines.append(f"  {kpi}: {formed[(kpi, True)]} of {formed[(kpi, True)] + formed[(kpi, False)]}")
    lines += [f"warning: {g.kpi} cannot be formed for {g.services_affected} of {g.services} services of "
              f"{g.agency_id} ({g.reason}): {g.fix}" for g in preview.gaps]
    lines += [f"suspicious: {s}" for s in preview.suspicious]
    lines.append("something would be published" if preview.publishes else "nothing would be published")
    return "\n".join(lines)


def service_lines(preview: Preview) -> list[str]:
    """Each service's KPIs and why not, one line a service."""
    return [f"  {o.service_id}: " + "; ".join(
        f"{k.kpi} {k.periods_formed}/{k.periods}" + (f" ({k.why_not})" if k.why_not else "") for k in o.kpis)
        for o in preview.outcomes]
