"""The rules a staged row must pass, as Polars expressions, and how a frame is checked against them: the first rule
each row breaks names its quarantine record. Shared by the monthly returns (`transforms/staging.py`), the
catalogue and the benefits register (`transforms/reference.py`) and records (`transforms/records.py`).

The rules of a monthly return read whose return a row is from its context columns (`AGENCY`, `RETURN_MONTH`,
`FIRST_MONTH`), and every rule over several rows stays within one agency's month, so one pass checks the returns
of many agencies and months exactly as it would check each on its own."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.canonical import AGENCY, COUNTS, FILE, FIRST_MONTH, REQUIRED, RETURN_MONTH, ROW, SHAPE, TOTAL
from transforms.domain import CHANNELS, COST_CATEGORIES
from transforms.layouts import ALL, NO_CHANNEL
from transforms.periods import MAX_PERIOD_CHARS

WITHIN = [AGENCY, RETURN_MONTH]  # rules over several rows never reach beyond one agency's month


@dataclass(frozen=True)
class Rule:
    name: str
    column: str
    broken: pl.Expr
    message: str | pl.Expr  # an expression where the message names the row's own return (its month)


BIGINT_MAX = 2**63 - 1
# 12, -3.5, 1e3, 2.5E+2, read as exact decimals; ASCII digits only (a regex's \d also matches other scripts' digits)
NUMBER_TEXT = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
NUMBER_PARTS = r"^[+-]?([0-9]*)\.?([0-9]*)(?:[eE]([+-]?[0-9]+))?$"  # digits before the point, after it, exponent
# What a reader says in _row_shape about a row it could not read as sent: (rule, how the note starts, message).
ROW_PROBLEMS = [
    ("wrong_number_of_fields", r"^\d+ fields where", "the row has the wrong number of fields (a truncated or "
                                                      "mis-delimited line)"),
    ("unterminated_quote", "^an unterminated quote", "a quoted field opens on this row and never closes; the rows "
                                                     "after it are read on their own"),
    ("stray_quote", "^a stray quote", "a quote inside a field that is not quoted whole"),
    ("line_too_long", "^a line over", "the line is longer than files.max_line_bytes"),
    ("field_too_long", "^a cell over", "a cell is longer than files.max_field_bytes"),
    ("duplicate_json_key", "^a key sent twice", "the JSON record gives a key more than once, so which value is "
                                                "meant cannot be told; send each key once"),
]


def _exact(column: str) -> pl.Expr:
    """The text as an exact decimal (never through a float): null when it is not a number or has more than 29
    digits before the point."""
    return pl.when(pl.col(column).str.contains(NUMBER_TEXT)).then(pl.col(column).cast(pl.Decimal(38, 9), strict=False))


def is_whole(column: str) -> pl.Expr:
    """Whether a number's text is a whole number, read from its digits, never from a rounded value (a decimal of 9
    places would make 5.0000000001, 4.9999999999999999999 and 1.5e-10 whole): the digits left once trailing zeros
    are dropped must all stand before the point, after the exponent moves it (250.0, 1e3 and 150e-1 are whole)."""
    part = [pl.col(column).str.extract(NUMBER_PARTS, group) for group in (1, 2, 3)]
    digits = pl.concat_str(part[0], part[1])
    significant = digits.str.strip_chars_end("0")
    length = [text.str.len_chars().cast(pl.Int64) for text in (part[1], digits, significant)]  # unsigned otherwise
    places_after_point = length[0] - (length[1] - length[2])
    exponent = part[2].cast(pl.Float64).fill_null(0)  # a float: an exponent of any length compares correctly
    return (significant.str.strip_chars_start("0") == "") | (exponent >= places_after_point)


def whole_number(column: str) -> pl.Expr:
    """A count as an exact integer, or null when the text is not a whole number or does not fit in a BIGINT."""
    return pl.when(is_whole(column)).then(_exact(column).cast(pl.Int64, strict=False))


def _not_finite(column: str) -> Rule:
    number = pl.col(column).cast(pl.Float64, strict=False)
    return Rule("not_finite", column, number.is_nan() | number.is_infinite(),
                f"{column} is not a finite number (NaN or infinity)")


def _count_rules(column: str, max_count: int) -> list[Rule]:
    """A count: finite, a whole number, within max_count (at most the largest BIGINT), not negative."""
    whole = whole_number(column)
    return [_not_finite(column),
            Rule("not_a_number", column, pl.col(column).is_not_null() & ~pl.col(column).str.contains(NUMBER_TEXT),
                 f"{column} is not a whole number"),
            Rule("not_a_number", column, is_whole(column).not_(), f"{column} is not a whole number"),
            Rule("value_out_of_range", column, pl.col(column).is_not_null() & (whole.is_null() | (whole > max_count)),
                 f"{column} is above {max_count:,} (values.max_count)"),
            Rule("negative_count", column, whole < 0, f"{column} is negative")]


def _sum_rule(columns: list[str], weights: list[int], max_count: int) -> Rule:
    """The counts of a service's period added over its channels (weighted: a satisfaction score multiplies each
    rating by its weight) must fit, or every sum built on them would overflow."""
    group = [*WITHIN, "service_id", "grain", "period_start"]
    total = pl.sum_horizontal([whole_number(c).cast(pl.Int128) * w for c, w in zip(columns, weights)])
    return Rule("value_out_of_range", columns[-1], total.sum().over(group) > max_count,
                f"{' + '.join(columns)} over the service's channels add up to more than {max_count:,} "
                "(values.max_count)")


def shape_rules() -> list[Rule]:
    """What the reader noted in `_row_shape` about a row it could not read as sent, each by its rule."""
    return [*(Rule(name, SHAPE, pl.col(SHAPE).str.contains(start), message) for name, start, message in ROW_PROBLEMS),
            Rule("unreadable_row", SHAPE, pl.col(SHAPE).is_not_null(), "the row could not be read as it was sent")]


def _not_a_number(column: str, whole: bool) -> Rule:
    broken = pl.col(column).is_not_null() & ~pl.col(column).str.contains(NUMBER_TEXT)
    return Rule("not_a_number", column, (broken | is_whole(column).not_()) if whole else broken,
                f"{column} is not {'a whole number' if whole else 'a number'}")


def rules(return_type: str, reported_total: bool = False, max_count: int = BIGINT_MAX, max_cost_gbp: float = 1e12,
          history: bool = False) -> list[Rule]:
    """The rules of a return type, in the order they are applied. Needs the catalogue joined in
    (`catalogue_agency_id`, `channels_offered`) and the context columns (the agency, the return's month, the
    agency's first month: no period before it is accepted); `reported_total` adds the checks of a wide row's
    total; `max_count` and `max_cost_gbp` are the ceilings of config/limits.yaml; `history`: the return may hold any
    period up to its month."""
    channels = CHANNELS + ("shared",) if return_type == "costs" else CHANNELS + (ALL,)
    ends = pl.col("period_end").dt.strftime("%Y-%m")
    month = pl.col(RETURN_MONTH).str.slice(0, 7)
    common = [
        *shape_rules(),
        # an empty count of transactions means "not provided"; costs are checked after their category
        *(Rule("required_value_missing", c, pl.col(c).is_null(), f"{c} is required")
          for c in REQUIRED[return_type] if c not in ("transactions_completed", "cost_gbp")),
        Rule("unknown_service", "service_id", pl.col("catalogue_agency_id").is_null(),
             "service_id is not in the service catalogue"),
        Rule("service_of_another_agency", "service_id", pl.col("catalogue_agency_id") != pl.col(AGENCY),
             "the catalogue gives this service to another agency"),
        Rule("not_a_period", "month", pl.col("month").str.strip_chars().str.len_chars() > MAX_PERIOD_CHARS,
             f"the cell is longer than any period can be written ({MAX_PERIOD_CHARS} characters at most): check that "
             "the column mapped to month holds the period"),
        Rule("period_not_recognised", "month", pl.col("period_start").is_null(),
             "the period is not one the pipeline reads (a month such as 2024-03 or Mar 2024, a quarter such as "
             "2024 Q1, a financial year such as 2024-25, or a span such as April 2024 to March 2025)"),
        Rule("month_outside_return_period", "month", (ends > month) if history else (ends != month),
             pl.concat_str(pl.lit(f"the period does not end {'by' if history else 'in'} this return's month "), month)),
        Rule("period_before_first_month", "month", pl.col("period_start") < pl.col(FIRST_MONTH).str.to_date(),
             pl.concat_str(pl.lit("the period starts before "), pl.col(FIRST_MONTH).str.slice(0, 7),
                           pl.lit(", the first month configured (first_month in sources.yaml)"))),
        Rule("before_service_existed", "month", pl.col("period_start") < pl.col("live_from"),
             "the period starts before the service went live (live_from in the catalogue)"),
        Rule("no_channel_offered", "channel", pl.col("channel") == NO_CHANNEL,
             "every channel of the row is marked not applicable: the service offers none in this period, so there is "
             "no figure to publish"),
        Rule("unknown_channel", "channel", ~pl.col("channel").is_in(channels),
             f"channel is not one of {', '.join(channels)}"),
        Rule("channel_not_offered", "channel",
             ~pl.col("channel").is_in(["shared", ALL]) & ~pl.col("channels_offered").list.contains(pl.col("channel")),
             "the catalogue says the service does not offer this channel"),
    ]
    if return_type == "transactions":
        started, completed = whole_number("transactions_started"), whole_number("transactions_completed")
        return [*common,
                *_count_rules("transactions_started", max_count), *_count_rules("transactions_completed", max_count),
                _sum_rule(["transactions_started"], [1], max_count),
                _sum_rule(["transactions_completed"], [1], max_count),
                Rule("completed_above_started", "transactions_completed", completed > started,
                     "more transactions completed than started"),
                *(_total_rules(completed) if reported_total else [])]
    if return_type == "costs":
        return [*common,
                Rule("unknown_cost_category", "cost_category", ~pl.col("cost_category").is_in(COST_CATEGORIES),
                     f"cost_category is not one of {', '.join(COST_CATEGORIES)}"),
                Rule("required_value_missing", "cost_gbp", pl.col("cost_gbp").is_null(), "cost_gbp is required"),
                _not_finite("cost_gbp"),
                Rule("value_out_of_range", "cost_gbp",
                     pl.col("cost_gbp").cast(pl.Float64, strict=False).abs() > max_cost_gbp,
                     f"cost_gbp is above {max_cost_gbp:,.0f} (values.max_cost_gbp): not a plausible cost"),
                _not_a_number("cost_gbp", False),
                Rule("negative_cost", "cost_gbp", pl.col("cost_gbp").cast(pl.Float64, strict=False) < 0,
                     "cost_gbp is negative")]
    ratings = COUNTS["satisfaction"]
    return [*common, *(rule for c in ratings for rule in _count_rules(c, max_count)),
            _sum_rule(ratings, [1, 2, 3, 4, 5], max_count)]


def _total_rules(completed: pl.Expr) -> list[Rule]:
    """A wide row reports a total beside its channels: digital cannot exceed it, and channels that cover every
    channel the service offers must add up to it (a total beside only some channels is a reported total)."""
    total = whole_number(TOTAL)
    source_row = [FILE, ROW]
    channel = pl.col("channel") != ALL
    all_provided = (completed.is_not_null() | ~channel).all().over(source_row)
    covers = channel.sum().over(source_row) >= pl.col("channels_offered").list.len()
    return [
        _not_a_number(TOTAL, True),
        Rule("digital_above_total", "transactions_completed",
             (pl.col("channel") == "online") & (completed > total), "digital completions exceed the reported total"),
        Rule("channels_do_not_sum_to_total", TOTAL,
             all_provided & covers & (pl.when(channel).then(completed).sum().over(source_row) != total),
             "the channels do not add up to the reported total"),
    ]


def apply_rules(frame: pl.DataFrame, checks: list[Rule]) -> pl.DataFrame:
    """Adds rule, column_name, offending_value and message: the first rule each row breaks, else nulls. Each rule is
    evaluated once, for the number of the first one broken; the four columns are read from that number."""
    first = pl.coalesce([pl.when(r.broken).then(pl.lit(i, pl.Int32)) for i, r in enumerate(checks)])
    frame = frame.with_columns(first.alias("_first_rule"))
    broken = [pl.col("_first_rule") == i for i in range(len(checks))]
    return frame.with_columns(
        rule=pl.coalesce([pl.when(b).then(pl.lit(r.name)) for b, r in zip(broken, checks)]),
        column_name=pl.coalesce([pl.when(b).then(pl.lit(r.column)) for b, r in zip(broken, checks)]),
        offending_value=pl.coalesce([pl.when(b).then(pl.col(r.column).cast(pl.String).fill_null(""))
                                     for b, r in zip(broken, checks)]),
        message=pl.coalesce([pl.when(b).then(pl.lit(r.message) if isinstance(r.message, str) else r.message)
                             for b, r in zip(broken, checks)]),
    ).drop("_first_rule")


NAMED = ("service_id", "period_start", "period_end")  # what a quarantine record names of its row, when it has them


def first_failures(checked: pl.DataFrame, part: tuple[str, ...] = ()) -> pl.DataFrame:
    """One quarantine record per failing source row (or part of a row, say one period of it): the first rule it
    broke, and the service and the period of the row where it has them (a header-encoded row holds many periods:
    the record says which)."""
    return (checked.filter(pl.col("rule").is_not_null())
            .group_by(FILE, ROW, *part, maintain_order=True).first()
            .select(pl.col(FILE).alias("source_file"), pl.col(ROW).alias("row_number"), "rule", "column_name",
                    "offending_value", "message", *(c for c in NAMED if c in checked.columns)))


def mark_duplicates(frame: pl.DataFrame, key: list[str], values: list[str],
                    within: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rules for repeated keys among rows that passed: an exact repeat loses to the first copy; copies that
    disagree are all set aside, since nobody can tell which one is right. Rows must be in the order sent; `within`:
    columns of the key that the message does not name (whose return a row is)."""
    group = [*within, *key]
    copies = pl.len().over(group)
    versions = pl.struct(values).n_unique().over(group)
    first_copy = pl.int_range(pl.len()).over(group) == 0
    return frame.with_columns(
        rule=pl.when((copies > 1) & (versions > 1)).then(pl.lit("conflicting_duplicate"))
        .when((copies > 1) & ~first_copy).then(pl.lit("duplicate_row")),
        column_name=pl.lit(", ".join(key)),
        offending_value=pl.concat_str([pl.col(c).cast(pl.String) for c in key], separator=" "),
        message=pl.when(versions > 1).then(pl.lit("the same key is sent more than once with different figures"))
        .otherwise(pl.lit("an exact repeat of an earlier row")),
    )

