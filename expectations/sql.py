"""The suites of suites.py evaluated in DuckDB: one query per table counts every expectation's failing rows, and
only a failing expectation's first examples are read back, in the table's order and named by its key, as Great
Expectations names them. Great Expectations itself is not imported (about a second of every run, more under load):
runner.py validates the same suites with it, and tests/test_suites_in_sql.py holds these verdicts, counts and
examples to its. An expectation this file has no SQL for (another type, or a keyword such as `mostly`) sends the
whole suite to Great Expectations, on the table as a frame.

A failing row is what Great Expectations counts as unexpected: empty values are not looked at, except by
column_values_to_not_be_null and, when a row is empty in every column, the compound key's uniqueness. NaN sorts above
every number in DuckDB, so the bounds of a between fail on it (Great Expectations is given NaN as +infinity)."""

from __future__ import annotations

from expectations.result import EXAMPLES, SuiteResult, failure, suite_name
from expectations.suites import expectations as suite_of
from transforms.catalogue import CATALOGUE


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _between(kwargs: dict, params: list) -> str:
    column, bounds = _quoted(kwargs["column"]), []
    if kwargs.get("min_value") is not None:
        params.append(kwargs["min_value"])
        bounds.append(f"{column} {'>' if kwargs.get('strict_min') else '>='} ?")
    if kwargs.get("max_value") is not None:
        params.append(kwargs["max_value"])
        bounds.append(f"{column} {'<' if kwargs.get('strict_max') else '<='} ?")
    return f"{column} IS NOT NULL AND NOT ({' AND '.join(bounds)})"


def _in_set(kwargs: dict, params: list) -> str:
    params.append(list(kwargs["value_set"]))
    return f"{_quoted(kwargs['column'])} IS NOT NULL AND NOT list_contains(?, {_quoted(kwargs['column'])})"


def _not_null(kwargs: dict, params: list) -> str:
    return f"{_quoted(kwargs['column'])} IS NULL"


def _a_above_b(kwargs: dict, params: list) -> str:
    a, b = _quoted(kwargs["column_A"]), _quoted(kwargs["column_B"])
    return f"{a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({a} {'>=' if kwargs.get('or_equal') else '>'} {b})"


def _repeated(columns: list[str]) -> str:
    """Rows whose values in `columns` another row repeats, those empty in every one of them left out."""
    quoted = ", ".join(_quoted(c) for c in columns)
    return (f"NOT ({' AND '.join(f'{_quoted(c)} IS NULL' for c in columns)}) "
            f"AND count(*) OVER (PARTITION BY {quoted}) > 1")


# type -> (the keywords it may be written with here, its failing rows as a condition)
_ROW_RULES = {
    "expect_column_values_to_be_between": ({"column", "min_value", "max_value", "strict_min"}, _between),
    "expect_column_values_to_be_in_set": ({"column", "value_set"}, _in_set),
    "expect_column_values_to_not_be_null": ({"column"}, _not_null),
    "expect_column_pair_values_a_to_be_greater_than_b": ({"column_A", "column_B", "or_equal", "ignore_row_if"},
                                                         _a_above_b),
}
_UNIQUE = {"expect_column_values_to_be_unique": {"column"}, "expect_compound_columns_to_be_unique": {"column_list"}}
_COLUMNS = "expect_table_columns_to_match_set"


def _in_sql(expectation: dict) -> bool:
    kind, kwargs = expectation["type"], expectation["kwargs"]
    if kind == _COLUMNS:
        return kwargs.get("exact_match") is False and set(kwargs) == {"column_set", "exact_match"}
    if kind == "expect_column_pair_values_a_to_be_greater_than_b" and \
            kwargs.get("ignore_row_if") != "either_value_is_missing":
        return False
    allowed = _ROW_RULES[kind][0] if kind in _ROW_RULES else _UNIQUE.get(kind)
    return allowed is not None and set(kwargs) <= allowed


def _reads(expectation: dict) -> list[str]:
    kwargs = expectation["kwargs"]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    return [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]


def _example_columns(expectation: dict, key: tuple[str, ...]) -> list[str]:
    """An example row's columns as Great Expectations lists them: the expectation's first column(s), the key's
    others, then a pair's second column."""
    kwargs = expectation["kwargs"]
    first = kwargs.get("column_list") or [kwargs.get("column") or kwargs["column_A"]]
    last = [kwargs["column_B"]] if "column_B" in kwargs else []
    return [*first, *(k for k in key if k not in first and k not in last), *last]


def validate(con, table: str, relation: str | None = None, warnings: bool = False,
             suite: list[dict] | None = None) -> SuiteResult:
    """Evaluate the suite of `table` (its warnings suite when `warnings`; `suite`, when given, instead) on
    `relation`, a table name or a query (the table itself when not given). Examples are named by the table's key (its
    catalogue entry's)."""
    relation = relation or table
    suite = suite if suite is not None else suite_of(table, warnings)
    name, key = suite_name(table, warnings), CATALOGUE[table].key
    if not all(_in_sql(e) for e in suite):
        from expectations.runner import run_expectations  # Great Expectations, for what has no SQL here

        return run_expectations(name, suite, con.execute(nan_as_infinity(con, relation)).df(), key)
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {_from(relation)}").fetchall()]
    rules, failures = [], {}
    for number, expectation in enumerate(suite):
        missing = [c for c in _reads(expectation) if c not in columns]
        if expectation["type"] == _COLUMNS:
            if set(expectation["kwargs"]["column_set"]) - set(columns):
                failures[number] = failure(expectation, None, [sorted(columns)])
        elif missing:  # as Great Expectations reports an expectation it could not evaluate
            failures[number] = failure(expectation, None, [None])
        else:
            params = []
            if expectation["type"] in _UNIQUE:
                condition = _repeated(_reads(expectation))
            else:
                condition = _ROW_RULES[expectation["type"]][1](expectation["kwargs"], params)
            rules.append((number, expectation, condition, params))
    checked = f"SELECT *, row_number() OVER () AS __row FROM {_from(relation)}"
    flags = "".join(f", ({condition}) AS __fails_{number}" for number, _, condition, _ in rules)
    counts = "".join(f", count(*) FILTER (WHERE __fails_{number})" for number, _, _, _ in rules)
    [(rows, *unexpected)] = con.execute(
        f"WITH checked AS ({checked}), flagged AS (SELECT *{flags} FROM checked) SELECT count(*){counts} FROM flagged",
        [p for *_, params in rules for p in params]).fetchall()
    for (number, expectation, condition, params), count in zip(rules, unexpected):
        if count:
            shown = ", ".join(_quoted(c) for c in _example_columns(expectation, key))
            examples = con.execute(
                f"WITH checked AS ({checked}), flagged AS (SELECT *, ({condition}) AS __fails FROM checked) "
                f"SELECT {shown} FROM flagged WHERE __fails ORDER BY __row LIMIT {EXAMPLES}", params)
            names = [d[0] for d in examples.description]
            failures[number] = failure(expectation, count, [dict(zip(names, row)) for row in examples.fetchall()])
    return SuiteResult(suite=name, rows=rows, evaluated=len(suite), failures=[failures[n] for n in sorted(failures)])


def _from(relation: str) -> str:
    return relation if relation.isidentifier() else f"({relation})"


def nan_as_infinity(con, relation: str) -> str:
    """SELECT * of a relation with NaN in its DOUBLE columns given as +infinity: in pandas NaN and NULL are one value,
    and the suites' finite-number rules must see the one and not the other (for Great Expectations)."""
    described = con.execute(f"DESCRIBE SELECT * FROM {_from(relation)}").fetchall()
    doubles = [row[0] for row in described if row[1] == "DOUBLE"]
    replaced = ", ".join(f"CASE WHEN isnan({c}) THEN 'inf'::DOUBLE ELSE {c} END AS {c}" for c in doubles)
    return f"SELECT * REPLACE ({replaced}) FROM {_from(relation)}" if doubles else f"SELECT * FROM {_from(relation)}"
