"""From a submitted table (all cells as text) to typed canonical rows and quarantined rows.

Pure Polars, no I/O and no Dagster. Two steps:
- `normalise` (`transforms/normalising.py`): apply an agency's declarative mapping so the frame has the canonical
  column names, still as text.
- `validate`: apply the rules of a return type in order (`transforms/row_rules.py`). A source row that breaks any
  rule is quarantined whole (a row of several periods, period by period; there a channel the service does not
  offer, that channel's figure alone), with the first rule it broke, the column, the offending value and, where
  the row has them, the service and the period; every other row is typed and kept. `validate_returns` does the
  same in one pass for the returns of many agencies and months, each row carrying whose return it is.
"""

from __future__ import annotations

import polars as pl

from transforms.canonical import (AGENCY, COLUMNS, CONTEXT, COUNTS, FILE, FIRST_MONTH, KEYS, NUMERIC, PERIOD,
                                  RETURN_MONTH, ROW, SHAPE, TOTAL, LayoutError)
from transforms.layouts import FACTS_FROM_RETURN, OFFERED, REPORTED_COLUMNS, reported_rules
from transforms.normalising import normalise, normalise_files
from transforms.row_rules import (BIGINT_MAX, WITHIN, Rule, apply_rules, first_failures, mark_duplicates, rules,
                                  whole_number)

__all__ = ["AGENCY", "BIGINT_MAX", "COLUMNS", "CONTEXT", "COUNTS", "FILE", "FIRST_MONTH", "KEYS", "NUMERIC",
           "PERIOD", "RETURN_MONTH", "ROW", "SHAPE", "TOTAL", "LayoutError", "Rule", "apply_rules", "first_failures",
           "mark_duplicates", "normalise", "normalise_files", "validate", "validate_returns"]


def validate(frame: pl.DataFrame, return_type: str, agency_id: str, month: str, catalogue: pl.DataFrame,
             max_count: int = BIGINT_MAX, max_cost_gbp: float = 1e12, history: bool = False,
             first_month: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted rows, typed; quarantined source rows) of one agency's return for `month` (YYYY-MM-DD). `frame`
    is `normalise`d; `catalogue` has service_id, agency_id and channels_offered (a list). Rows come in the order
    they were sent (files in the order they arrived, rows in file order), so "first" means first sent. A row of
    several periods (a header-encoded layout) is accepted or quarantined period by period."""
    framed = frame.with_columns(pl.lit(agency_id).alias(AGENCY), pl.lit(month[:10]).alias(RETURN_MONTH),
                                pl.lit(first_month or "2000-01-01").alias(FIRST_MONTH))
    accepted, failed = validate_returns(framed, return_type, catalogue, max_count, max_cost_gbp, history)
    return accepted.drop(AGENCY), failed


def validate_returns(frame: pl.DataFrame, return_type: str, catalogue: pl.DataFrame, max_count: int = BIGINT_MAX,
                     max_cost_gbp: float = 1e12, history: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`validate` over the returns of many agencies and months at once: each row names its own in the context
    columns (`AGENCY`, `RETURN_MONTH`, `FIRST_MONTH`: YYYY-MM-DD), and what one return's rows decide together (a
    sum over channels, a repeated key) stays within that return. Accepted rows keep `AGENCY`; both outputs are in
    the order of the rows given."""
    if "live_from" not in catalogue.columns:
        catalogue = catalogue.with_columns(pl.lit(None, pl.Date).alias("live_from"))
    facts = [FACTS_FROM_RETURN] if FACTS_FROM_RETURN in catalogue.columns else []
    joined = frame.join(catalogue.select("service_id", pl.col("agency_id").alias("catalogue_agency_id"),
                                         "channels_offered", "live_from", *facts), on="service_id", how="left",
                        maintain_order="left")
    offered = [pl.col(OFFERED).alias("channels_offered")] if OFFERED in frame.columns else []
    if offered:
        joined = _channels_in_force(joined)
    reported = [c for c in REPORTED_COLUMNS if c in frame.columns]
    checks = rules(return_type, TOTAL in frame.columns, max_count, max_cost_gbp, history)
    joined = apply_rules(joined, checks + [Rule(*r) for r in reported_rules(reported)])
    part = ("period_start", "grain") if reported else ()
    # header-encoded rows (a service's periods): a channel the service does not offer sets aside that channel's
    # figure, not the period; a wide row with a total is set aside whole, its channels adding up to the total
    own = (pl.col("rule") == "channel_not_offered").fill_null(False) if reported and TOTAL not in frame.columns \
        else pl.lit(False)
    row_failed = (pl.col("rule").is_not_null() & ~own).any().over(FILE, ROW, *part) | own
    failed = first_failures(joined, part)
    good = _typed(joined.filter(~row_failed), return_type)

    good = mark_duplicates(good, KEYS[return_type], [c for c in COLUMNS[return_type] if c not in KEYS[return_type]],
                           within=tuple(WITHIN))
    failed = pl.concat([failed, first_failures(good)])
    accepted = good.filter(~row_failed).select(*COLUMNS[return_type], *PERIOD, *reported, *offered, FILE, ROW,
                                               AGENCY)
    return accepted, failed


def _channels_in_force(joined: pl.DataFrame) -> pl.DataFrame:
    """The channels a row's period is judged against: those its return states for the period where the catalogue
    says none or the agency's mapping lets the return's facts win (`service_facts: return`), else the catalogue's.
    `OFFERED` keeps the return's statement only where it is in force (null: the catalogue's are)."""
    stated = pl.col(OFFERED)
    wins = pl.col(FACTS_FROM_RETURN).fill_null(False) if FACTS_FROM_RETURN in joined.columns else pl.lit(False)
    in_force = stated.is_not_null() & (pl.col("channels_offered").is_null() | wins)
    return joined.with_columns(pl.when(in_force).then(stated).otherwise(pl.col("channels_offered"))
                               .alias("channels_offered"), pl.when(in_force).then(stated).alias(OFFERED))


def _typed(frame: pl.DataFrame, return_type: str) -> pl.DataFrame:
    values = [whole_number(c).alias(c) for c in COUNTS[return_type]]
    values += [pl.col(c).cast(pl.Float64, strict=False) for c in REPORTED_COLUMNS if c in frame.columns]
    if return_type == "costs":  # exact to the penny (half to even), then the double nearest that many pence
        values.append(pl.col("cost_gbp").cast(pl.Decimal(38, 2)).cast(pl.Float64))
    # the return's month: for a return of one period, the month its period ends in
    return frame.with_columns(pl.col(RETURN_MONTH).str.to_date().alias("month"), *values)
