"""Run a suite of expectations/suites.py on a DataFrame and return a plain result (no GX objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import pandas as pd

import great_expectations as gx  # imported by expectations/__init__.py first, configured there

from expectations.suites import expectations
from transforms.catalogue import CATALOGUE

EXAMPLES = 10


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


@cache
def _batch_definition():
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    asset = context.data_sources.add_pandas("frames").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole")


@cache
def _suite(name: str, warnings: bool) -> gx.ExpectationSuite:
    """A suite, made once a process (making one copies every expectation's configuration)."""
    return gx.ExpectationSuite(name=f"{name}.{'warnings' if warnings else 'blocking'}",
                               expectations=expectations(name, warnings))


def run_suite(name: str, frame: pd.DataFrame, warnings: bool = False) -> SuiteResult:
    """Validate `frame` with suite `name` (from WARNINGS when `warnings`); examples are identified by the table's key
    (its catalogue entry's)."""
    suite = _suite(name, warnings)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    result = batch.validate(suite, result_format={"result_format": "BOOLEAN_ONLY"})
    if not result.success:  # only then the counts and examples: the complete result takes twice as long
        result = batch.validate(suite, result_format={"result_format": "COMPLETE",
                                                      "unexpected_index_column_names": list(CATALOGUE[name].key)})
    failures = []
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        details = outcome.result or {}
        examples = details.get("unexpected_index_list") or details.get("partial_unexpected_list") or []
        failures.append(Failure(
            expectation=config.type, column=config.kwargs.get("column") or config.kwargs.get("column_A"),
            why=(config.meta or {}).get("why", ""), unexpected_count=details.get("unexpected_count"),
            examples=[_plain(e) for e in examples[:EXAMPLES]] or [_plain(details.get("observed_value"))],
        ))
    return SuiteResult(suite=suite.name, rows=len(frame), evaluated=len(result.results), failures=failures)


def _plain(value):
    """JSON-friendly copies of GX's example values (numpy scalars, timestamps, tuples)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
