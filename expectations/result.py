"""A suite's outcome as plain values (no Great Expectations objects), whichever engine evaluated it."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field

EXAMPLES = 10  # failing rows shown per expectation


@dataclass
class Failure:
    expectation: str
    column: str | None
    why: str
    unexpected_count: int | None
    examples: list = field(default_factory=list)


@dataclass
class SuiteResult:
    suite: str
    rows: int
    evaluated: int
    failures: list[Failure]

    @property
    def success(self) -> bool:
        return not self.failures


def suite_name(table: str, warnings: bool) -> str:
    return f"{table}.{'warnings' if warnings else 'blocking'}"


def failure(expectation: dict, unexpected_count: int | None, examples: list) -> Failure:
    kwargs = expectation["kwargs"]
    return Failure(expectation=expectation["type"], column=kwargs.get("column") or kwargs.get("column_A"),
                   why=expectation["meta"]["why"], unexpected_count=unexpected_count,
                   examples=[plain(e) for e in examples[:EXAMPLES]])


def plain(value):
    """JSON-friendly copies of example values (numpy scalars, timestamps, decimals, tuples)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date):  # dates as pandas shows them, so both engines give the same examples
        return str(dt.datetime.combine(value, dt.time()) if type(value) is dt.date else value)
    if hasattr(value, "item"):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
