"""Great Expectations suites, one per table: what must hold before a table may flow downstream.

Each expectation is a Great Expectations expectation configuration, in GE's own vocabulary and JSON form
({"type": "expect_column_values_to_be_between", "kwargs": {...}, "meta": {"why": ...}}), and says in `meta.why` why it
exists. A run evaluates them as DuckDB SQL (sql.py: one query per table) without importing Great Expectations;
runner.py validates the same suites with Great Expectations itself, which tests/test_suites_in_sql.py holds the SQL
to, verdict for verdict and example for example.

Blocking suites guard schema, keys and impossible values: the schema and key expectations are made from the
table's catalogue entry (its key and columns), and this file holds only the domain rules (a table whose entry says
suite=True and has none here is guarded by its schema and key). Warning suites flag what is possible but suspicious
(a month-on-month jump of more than 3x).
"""

from __future__ import annotations

from transforms.catalogue import CATALOGUE, TABLES, Table
from transforms.domain import CHANNELS, MONTH_ON_MONTH_JUMP as JUMP  # a ratio beyond JUMP (or below 1/JUMP) is flagged


def _expect(kind: str, why: str, **kwargs) -> dict:
    """An expectation configuration as Great Expectations writes it (`ExpectationConfiguration.to_json_dict()`)."""
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": {"why": why}}


def _unique(*columns: str):
    why = f"one row per {' x '.join(columns)}: a repeat would be counted twice"
    return (_expect("compound_columns_to_be_unique", why, column_list=list(columns)) if len(columns) > 1
            else _expect("column_values_to_be_unique", why, column=columns[0]))


def _not_negative(column: str, what: str = "a count"):
    return _expect("column_values_to_be_between", f"{column} is {what} and cannot be negative", column=column,
                   min_value=0)


def _rate(column: str):
    return _expect("column_values_to_be_between", f"{column} is a share and must lie in [0, 1]", column=column,
                   min_value=0, max_value=1)


def _not_above(smaller: str, larger: str, why: str):
    return _expect("column_pair_values_a_to_be_greater_than_b", why, column_A=larger, column_B=smaller,
                   or_equal=True, ignore_row_if="either_value_is_missing")


def _columns(*columns: str):
    return _expect("table_columns_to_match_set", "downstream SQL and the published schema rely on these columns",
                   column_set=list(columns), exact_match=False)


def _finite(*columns: str) -> list:
    """NaN and the infinities lie outside these bounds (Great Expectations is given NaN as +infinity, as pandas cannot
    tell NaN from a missing value), so these fail on either."""
    return [_expect("column_values_to_be_between",
                    f"{column} must be a finite number: NaN or an infinity means an input was not a number, and would "
                    "be published as one", column=column, min_value=-1e300, max_value=1e300) for column in columns]


def _in(column: str, values: list[str]):
    return _expect("column_values_to_be_in_set", f"{column} is a closed set: {', '.join(values)}", column=column,
                   value_set=values)


def _started_first():
    return _not_above("transactions_completed", "transactions_started",
                      "a transaction cannot complete without starting")


def _present(column: str, why: str | None = None):
    return _expect("column_values_to_not_be_null", why or f"{column} is part of the key", column=column)


def _schema_and_key(table: Table) -> list:
    """The expectations a table's catalogue entry gives: its columns, one row per key, no key column empty."""
    return [_columns(*table.key, *table.columns), _unique(*table.key), *(_present(c) for c in table.key)]


def _domain_rules() -> dict[str, list]:
    return {
        "stg_service_catalogue": [_present("agency_id", "every service belongs to an agency")],
        "stg_transactions": [  # channel 'all' holds figures reported for the whole service
            _in("channel", [*CHANNELS, "all"]), _not_negative("transactions_started"),
            _not_negative("transactions_completed"), _started_first(),
        ],
        "stg_costs": [_in("channel", [*CHANNELS, "shared"]), _not_negative("cost_gbp", "money spent")],
        "stg_satisfaction": [_in("channel", list(CHANNELS)), *(_not_negative(f"rating_{k}") for k in range(1, 6))],
        "fct_service_month_channel": [
            _in("channel", list(CHANNELS)), _not_negative("transactions_completed"),
            _not_negative("cost_gbp", "money spent"), *_finite("cost_gbp"), _started_first(),
        ],
        "kpi_cost_per_transaction": [
            _not_negative("cost_gbp", "money spent"),
            _expect("column_values_to_be_between", "a completed transaction always costs something: 0 or less means "
                    "costs are missing or wrong", column="cost_per_transaction_gbp", min_value=0, strict_min=True),
            *_finite("cost_gbp", "cost_per_transaction_gbp", "rolling_12m_cost_per_transaction_gbp"),
        ],
        "kpi_digital_take_up": [
            _rate("digital_take_up_rate"), *_finite("take_up_change_pp", "shifted_transactions"),
            _not_above("digital_transactions_completed", "transactions_completed",
                       "digital transactions are part of all transactions"),
        ],
        "kpi_completion_rate": [_rate("completion_rate")],
        "kpi_by_period": [
            _in("grain", ["month", "quarter", "financial_year", "rolling_12_months", "span"]),
            _rate("digital_take_up_rate"), _rate("completion_rate"), _rate("satisfaction_score"),
            _not_negative("transactions_completed"), _not_above("period_start", "period_end",
                                                                "a period ends after it starts"),
            *_finite("cost_gbp", "cost_per_transaction_gbp"),
        ],
        "kpi_user_satisfaction": [
            _rate("satisfaction_score"), _rate("satisfied_share"),
            _not_above("satisfaction_score_ci_low", "satisfaction_score", "an interval contains its estimate"),
            _not_above("satisfaction_score", "satisfaction_score_ci_high", "an interval contains its estimate"),
        ],
        "stg_extract_transactions": [
            _in("channel", [*CHANNELS, "all"]),
            _not_negative("transactions_started"), _not_negative("transactions_completed"), _started_first(),
            _not_negative("time_to_complete_median_seconds", "a duration"),
            _not_above("time_to_complete_median_seconds", "time_to_complete_p90_seconds",
                       "the median cannot exceed the 90th percentile"),
        ],
        "kpi_processing_time": [
            _not_negative("time_to_complete_median_seconds", "a duration"),
            _not_above("time_to_complete_median_seconds", "time_to_complete_p90_seconds",
                       "the median cannot exceed the 90th percentile"),
        ],
    }


def _warnings() -> dict[str, list]:
    return {
        "kpi_cost_per_transaction": [
            _expect("column_values_to_be_between",
                    f"a month-on-month change of more than {JUMP:g}x in {what} is usually a reporting error",
                    column=column, min_value=1 / JUMP, max_value=JUMP)
            for column, what in (("volume_ratio", "volume"), ("cost_per_transaction_ratio", "cost per transaction"))
        ],
    }


def expectations(table: str, warnings: bool = False) -> list:
    """The expectation configurations of a table's blocking suite (its entry's schema and key, then its domain rules),
    or for its warnings suite."""
    if warnings:
        return _warnings()[table]
    return [*_schema_and_key(CATALOGUE[table]), *_domain_rules().get(table, [])]


BLOCKING = tuple(table.name for table in TABLES if table.suite)  # domain rules or not, every entry with suite=True
WARNINGS = tuple(_warnings())
