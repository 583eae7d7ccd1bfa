"""Layouts that carry meaning outside the cells: periods and measures in column headers, the channels a service
offers listed in the return, file names given as patterns. Pure Polars, no I/O and no Dagster.

A header family (`{period} {measure}`, `{period}: {measure}`, `{measure}\\n{period}`) turns each matching column
into rows: per source row and period, one row per channel measured (`transactions_completed`) and one row for the
whole service, channel `all`, holding what the publisher reported for the service as a whole (its total and any
KPI given as a value). A cell left empty was not sent and makes no row; a marker was sent and stays (as not
provided) so that a service that sent only markers is still there.
"""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import polars as pl

from transforms.canonical import LayoutError
from transforms.domain import CHANNELS
from transforms.periods import MAX_PERIOD_CHARS, ending_period, parse_period, period_columns

if TYPE_CHECKING:  # the models' validators use this module's patterns and measures
    from transforms.mappings import ChannelsOffered, DerivedId, HeaderFamily, Series

ALL = "all"  # the whole service: reported figures, never a channel
MONTHS = "_period_months"  # a header naming the last part of a longer period: how many months end there
OFFERED = "_channels_offered"  # the channels the return says a service offers (null: it does not say)
# Set on the catalogue's rows read with a return: the agency's mapping says its return's service facts win over the
# central catalogue's (`service_facts: return`).
FACTS_FROM_RETURN = "_facts_from_return"
NO_CHANNEL = "_no_channel_offered"  # a wide row whose every channel is marked not applicable: the service offers none
# What a header's measure label can stand for: a channel's completed transactions, the reported total, or a KPI
# the publisher reported as a value (kept as reported, beside any computed figure, never mixed into it).
REPORTED = {
    "total": "reported_transactions_completed",
    "cost_per_transaction_gbp": "reported_cost_per_transaction_gbp",
    "digital_cost_per_transaction_gbp": "reported_digital_cost_per_transaction_gbp",
    "completion_rate": "reported_completion_rate",
    "satisfaction_rate": "reported_satisfaction_rate",
}
MEASURE_TARGETS = (*CHANNELS, *REPORTED)
REPORTED_COLUMNS = tuple(REPORTED.values())
PART = re.compile(r"\{(\w+)\}")


def header_pattern(pattern: str, labels: list[str]) -> re.Pattern:
    """A pattern of named parts as a regular expression: {measure} is one of `labels`, {period} any text as long
    as a period can be (so that matching a header of any length takes time in proportion to it, not its square)."""
    names = PART.findall(pattern)
    if "measure" not in names or set(names) - {"measure", "period"} or len(names) != len(set(names)):
        raise ValueError("names {measure} once and may name {period} once, nothing else (e.g. '{period} {measure}')")
    pieces, last = [], 0
    for match in PART.finditer(pattern):
        pieces.append(r"\s*".join(re.escape(p) for p in re.split(r"\s+", pattern[last:match.start()])))
        pieces.append("(?P<measure>" + "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
                      + ")" if match.group(1) == "measure" else f"(?P<period>.{{1,{MAX_PERIOD_CHARS}}}?)")
        last = match.end()
    pieces.append(r"\s*".join(re.escape(p) for p in re.split(r"\s+", pattern[last:])))
    return re.compile("".join(pieces))


def matches_file(pattern: str, name: str) -> bool:
    """A file name against a mapping's `file`: exact, a glob (`*_services.csv`) or named parts
    (`{fiscal_year}_services.csv`, each part any text)."""
    return fnmatch.fnmatchcase(name, PART.sub("*", pattern))


def header_columns(columns: list[str], families: list[HeaderFamily]) -> dict[str, tuple[str | None, str, int]]:
    """Column -> (period text, measure target, months ending at the period) for every column a family reads."""
    found = {}
    for family in families:
        pattern = header_pattern(family.pattern, list(family.measures))
        for column in columns:
            match = pattern.fullmatch(column.strip())
            if match and column not in found:
                parts = match.groupdict()
                found[column] = (parts.get("period"), family.measures[parts["measure"]], family.period_months)
    return found


def headers_of_odd_length(columns: list[str], families: list[HeaderFamily]) -> list[str]:
    """Warnings for headers whose period disagrees with their family's period_months: a span written in full
    ("January 2014 to December 2015") of another length than the family's periods (a publisher's typo, read as
    the family says). A month or a quarter names the last part of a longer period and never disagrees."""
    warnings = []
    for column, (period, _, months) in header_columns(columns, families).items():
        parsed = parse_period(period) if months and period else None
        if parsed and parsed[2] not in ("month", "quarter"):
            named = (parsed[1].year - parsed[0].year) * 12 + parsed[1].month - parsed[0].month + 1
            if named != months:
                warnings.append(f"the header {column!r} names {named} months where its family's period_months is "
                                f"{months}: read as the {months} months ending {parsed[1]:%B %Y}; if it is a typo, "
                                "correct it with rename (README, Onboarding an agency)")
    return warnings


def from_headers(frame: pl.DataFrame, families: list[HeaderFamily], keep: list[str]) -> pl.DataFrame:
    """Header-encoded columns to rows (see the module's docstring); `keep`: other columns carried along."""
    read = header_columns(frame.columns, families)
    if not read:
        raise ValueError("no column matches the layout's header patterns")
    lookup = pl.DataFrame([(c, p, t, m) for c, (p, t, m) in read.items()], orient="row",
                          schema={"_column": pl.String, "month": pl.String, "_target": pl.String, MONTHS: pl.Int64})
    long = (frame.select(*keep, *read).unpivot(on=list(read), index=keep, variable_name="_column",
                                                value_name="_value")
            .filter(pl.col("_value").is_not_null())
            .join(lookup, on="_column", how="left"))
    index = [*keep, "month", MONTHS]
    channels = (long.filter(pl.col("_target").is_in(CHANNELS))
                .select(*index, pl.col("_target").alias("channel"), pl.col("_value").alias("transactions_completed")))
    service = long.filter(~pl.col("_target").is_in(CHANNELS))
    whole = (service.select(*index).unique(maintain_order=True)
             .join(service.pivot(on="_target", index=index, values="_value", aggregate_function="first")
                   .rename({k: v for k, v in REPORTED.items()}, strict=False), on=index, how="left", nulls_equal=True)
             .with_columns(pl.lit(ALL).alias("channel"), pl.lit(None, pl.String).alias("transactions_completed")))
    missing = [pl.lit(None, pl.String).alias(c) for c in REPORTED_COLUMNS if c not in whole.columns]
    whole = whole.with_columns(missing)
    # a period with channel figures but nothing for the whole service still has its row for the whole service
    bare = (channels.select(*index).unique(maintain_order=True)
            .join(whole.select(*index), on=index, how="anti", nulls_equal=True)
            .with_columns(pl.lit(ALL).alias("channel"), pl.lit(None, pl.String).alias("transactions_completed"),
                          *(pl.lit(None, pl.String).alias(c) for c in REPORTED_COLUMNS)))
    return pl.concat([channels, whole.select(bare.columns), bare], how="diagonal_relaxed").sort(
        [c for c in ("_row_number",) if c in keep], maintain_order=True)


def service_id_from(name: pl.Expr, prefix: str = "") -> pl.Expr:
    """A service's id from its name, for publishers that name their services only. The rule, stable and
    URL-safe: accents dropped (Unicode NFKD, combining marks removed), lower case, every run of characters other
    than a-z and 0-9 made one hyphen, none at either end, after the prefix ("Café licence (renewal)" is
    cafe-licence-renewal). The same name always gives the same id; a name with no letter or digit a-z 0-9 gives
    none (null, so the row is quarantined as required_value_missing)."""
    slug = (name.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()
            .str.replace_all(r"[^a-z0-9]+", "-").str.strip_chars("-"))
    return pl.when(slug != "").then(pl.lit(prefix) + slug)


def with_derived_ids(frame: pl.DataFrame, derived: DerivedId) -> pl.DataFrame:
    """`service_id` derived from the name column (`service_id_from`), the name kept. Two different names that give
    one id are an error naming both: their figures would otherwise be read as one service's."""
    if derived.source not in frame.columns:
        raise LayoutError(f"missing required column(s): {derived.source} (the service_id is derived from it)")
    frame = frame.with_columns(service_id_from(pl.col(derived.source), derived.prefix).alias("service_id"))
    clashes = (frame.select("service_id", derived.source).drop_nulls().unique()
               .filter(pl.len().over("service_id") > 1).sort("service_id", derived.source))
    if clashes.height:
        first = clashes[0, "service_id"]
        names = clashes.filter(pl.col("service_id") == first)[derived.source].to_list()
        raise LayoutError(f"the names {' and '.join(repr(n) for n in names)} both give the service id {first!r}: "
                          "two services cannot share an id; correct the name in the file (README, Onboarding an "
                          "agency: ids derived from names)", rule="service_ids_collide")
    return frame


def offered_from_return(frame: pl.DataFrame, declared: ChannelsOffered) -> pl.DataFrame:
    """`_channels_offered` from the return's own column of channel codes; null where the cell says nothing."""
    cell = pl.col(declared.column)
    codes = cell.str.split(declared.separator).list.eval(pl.element().str.strip_chars())
    channels = codes.list.eval(pl.element().replace_strict(declared.values, default=None)
                               ).list.drop_nulls().list.unique().list.sort()
    says_nothing = cell.is_null() | cell.is_in(declared.unknown)
    return frame.with_columns(pl.when(says_nothing).then(None).otherwise(channels).alias(OFFERED))


def reported_rules(reported: list[str]) -> list[tuple[str, str, pl.Expr, str]]:
    """(rule, column, broken, message) for figures reported for the whole service: numbers, not negative, rates
    within 0..1, and digital not above the reported total of the same row and period."""
    rules = []
    for column in reported:
        number = pl.col(column).str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
        rules += [("not_a_number", column, pl.col(column).is_not_null() & number.is_null(),
                   f"{column} is not a number"),
                  ("negative_value", column, number < 0, f"{column} is negative")]
        if column.endswith("_rate"):
            rules.append(("rate_above_one", column, number > 1, f"{column} is above 1 (rates are 0..1)"))
    if "reported_transactions_completed" in reported:
        total = (pl.col("reported_transactions_completed").cast(pl.Float64, strict=False)
                 .max().over("_source_file", "_row_number", "period_start", "grain"))
        digital = pl.col("transactions_completed").cast(pl.Float64, strict=False)
        rules.append(("digital_above_total", "transactions_completed",
                      (pl.col("channel") == "online") & (digital > total),
                      "digital completions exceed the reported total"))
    return rules


def with_periods(frame: pl.DataFrame, financial_years: bool = False) -> pl.DataFrame:
    """period_start, period_end and grain, each distinct period (and months ending there) parsed once;
    `financial_years`: the layout's periods are financial years ("2011-12" is April 2011 to March 2012)."""
    if MONTHS not in frame.columns:
        return frame.with_columns(period_columns("month", frame.get_column("month").to_list(),
                                                 financial_years=financial_years))
    pairs = frame.select("month", MONTHS).unique().drop_nulls("month")
    parsed = [ending_period(parse_period(text, financial_years), months or 0) for text, months in pairs.iter_rows()]
    lookup = pairs.with_columns(
        pl.Series("period_start", [p and p[0] for p in parsed], pl.Date),
        pl.Series("period_end", [p and p[1] for p in parsed], pl.Date),
        pl.Series("grain", [p and p[2] for p in parsed], pl.String))
    return frame.join(lookup, on=["month", MONTHS], how="left", maintain_order="left", nulls_equal=True)


def series_records(document, series: Series) -> list[dict]:
    """A JSON document holding one series per measure (`{datasets: [{id, data: [{label, value}]}]}`, as dashboard
    publishers keep them) as one record per period: the period, each series' value under its name and the document's
    `keep` keys; series listed in `percent` (0..100) made 0..1 exactly. A null value stays null (not provided)."""
    if not isinstance(document, dict) or not isinstance(document.get(series.datasets), list):
        raise ValueError(f"the JSON is not an object with a list of series under '{series.datasets}'")
    kept = {key: document.get(key) for key in series.keep}
    records: dict[str, dict] = {}
    for dataset in document[series.datasets]:
        points = dataset.get(series.points) if isinstance(dataset, dict) else None
        if not isinstance(points, list) or not all(isinstance(point, dict) for point in points):
            raise ValueError(f"a series has no list of points under '{series.points}'")
        name = str(dataset.get(series.name))
        for point in points:
            period = point.get(series.period)
            value = point.get(series.value)
            if name in series.percent and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                value = _per_unit(value)
            records.setdefault(str(period), {series.period: period, **kept})[name] = value
    return list(records.values())


def _per_unit(percent: int | float | Decimal) -> Decimal | float:
    """A percentage as a share, in exact decimals (73.39 -> 0.7339, never 0.7339000000000001)."""
    try:
        return Decimal(str(percent)) / 100
    except InvalidOperation:  # NaN or infinity: left for the rules to name
        return percent
