"""The extract stage's SQL (transforms/sql/extract_*.sql, DuckDB dialect) transpiled to Spark SQL by sqlglot.

The DuckDB files stay the one definition of every rule and aggregate; what changes here is only how a construct is
spelled in Spark, never what it computes:
- `extract_rows(files, agency, month)` is a DuckDB table macro: its body becomes a query of its own, over a view
  `extract_source` (the files, with `file_index` and `file_row_number` as DuckDB's read_parquet gives them; built by
  the Spark job), its parameters `agency` and `month` become the query's bound parameters, and every call of the
  macro becomes the view `extract_rows`.
- `hash(x)` (DuckDB: 64 bits) becomes `xxhash64(x)` (Spark's `hash` has 32 bits: as correct, since ids are then
  compared exactly, but many more collisions to compare).
- `quantile_cont(x, [q, ...])` becomes DuckDB's own interpolation written out: sort the group's values, take the
  two around position (n - 1) q and interpolate lo (1 - d) + hi d as one fused multiply-add (Java's Math.fma),
  which is how DuckDB's x86-64 build rounds it. Spark's `percentile` interpolates as (h - p) lo + (p - l) hi: the
  same to 1e-9 but not to the last bit, which would change the published files' bytes.
"""

from __future__ import annotations

from functools import cache

import sqlglot
from sqlglot import exp

from transforms import sql

MACRO_PARAMETERS = ("agency", "month")


def _quantiles(node: exp.PercentileCont) -> exp.Expression:
    """quantile_cont(x, [q, ...]) as a Spark expression giving DuckDB's figures bit for bit (NULL: no values)."""
    values = node.this.sql(dialect="spark")
    quantiles = node.expression.expressions if isinstance(node.expression, exp.Array) else [node.expression]
    qs = ", ".join(f"CAST({q.sql(dialect='spark')} AS DOUBLE)" for q in quantiles)
    position = "((size(s) - 1) * q)"
    fraction = f"({position} - floor({position}))"
    lo = f"CAST(element_at(s, CAST(floor({position}) AS INT) + 1) AS DOUBLE)"
    hi = f"CAST(element_at(s, CAST(ceil({position}) AS INT) + 1) AS DOUBLE)"
    interpolated = f"CAST(reflect('java.lang.Math', 'fma', {lo}, 1.0D - {fraction}, {hi} * {fraction}) AS DOUBLE)"
    text = (f"transform(array(sort_array(collect_list({values}))), "
            f"s -> IF(size(s) = 0, NULL, transform(array({qs}), q -> {interpolated})))[0]")
    if not isinstance(node.expression, exp.Array):
        text = f"({text})[0]"
    return sqlglot.parse_one(text, read="spark")


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.PercentileCont):
        return _quantiles(node)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "hash":
        return exp.Anonymous(this="xxhash64", expressions=node.expressions)
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) and node.this.name == "extract_rows":
        return exp.Table(this=exp.to_identifier("extract_rows"), alias=node.args.get("alias"))
    if isinstance(node, exp.Table) and isinstance(node.this, exp.ReadParquet):
        return exp.Table(this=exp.to_identifier("extract_source"), alias=node.args.get("alias"))
    return node


def _to_spark(tree: exp.Expression) -> str:
    return tree.transform(_rewrite).sql(dialect="spark", pretty=True)


def to_spark(duckdb_sql: str) -> str:
    """Any DuckDB query or expression in Spark SQL, with the translations above."""
    return _to_spark(sqlglot.parse_one(duckdb_sql, read="duckdb"))


@cache
def spark_sql(name: str) -> str:
    """The Spark SQL of extract_rows, extract_duplicates, extract_aggregates or extract_violations. Parameters are
    named markers (:agency, :month, :levels) bound by spark.sql(..., args=...)."""
    tree = sqlglot.parse_one(sql(name), read="duckdb")
    if isinstance(tree, exp.Create):  # the table macro: its body, its parameters bound
        body = tree.expression.copy()
        for column in body.find_all(exp.Column):
            if not column.table and column.name in MACRO_PARAMETERS:
                column.replace(exp.Placeholder(this=column.name))
        tree = body
    return _to_spark(tree)
