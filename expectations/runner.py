"""Validate a suite of expectations/suites.py with Great Expectations on a DataFrame and return a plain result: the
reference the SQL evaluation (sql.py) is held to, and its engine for any expectation it has no SQL for."""

from __future__ import annotations

import os
import sys
import warnings

import pandas as pd

from expectations.result import SuiteResult, failure, suite_name
from expectations.suites import expectations
from transforms.catalogue import CATALOGUE

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported

# Great Expectations imports pyspark whenever it is installed (the Spark engine's extra and the tests install it).
# pyspark warns that it does not support pandas 3 (not for our readers), and it takes a __main__ with neither a spec
# nor a file (`python -c`, a test worker) for a doctest run and ends the process there with status 0: such a __main__
# is given a file name while Great Expectations imports. (A run does not import Great Expectations: sql.py.)
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
_main = sys.modules.get("__main__")
_fileless_main = _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__")
if _fileless_main:
    _main.__file__ = "<string>"
try:
    import great_expectations as gx
finally:
    if _fileless_main:
        del _main.__file__


def run_expectations(name: str, suite: list[dict], frame: pd.DataFrame, key: tuple[str, ...]) -> SuiteResult:
    """Validate `frame` with the expectation configurations `suite`; examples are identified by the columns `key`."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    batch = context.data_sources.add_pandas("frames").add_dataframe_asset("frame") \
        .add_batch_definition_whole_dataframe("whole") \
        .get_batch(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    checked = gx.ExpectationSuite(name=name, expectations=suite)
    result = batch.validate(checked, result_format={"result_format": "BOOLEAN_ONLY"})
    if not result.success:  # only then the counts and examples: the complete result takes twice as long
        result = batch.validate(checked, result_format={"result_format": "COMPLETE",
                                                        "unexpected_index_column_names": list(key)})
    failures = []
    for outcome in result.results:
        if outcome.success:
            continue
        details, config = outcome.result or {}, outcome.expectation_config
        examples = details.get("unexpected_index_list") or details.get("partial_unexpected_list") or []
        position = next(i for i, e in enumerate(suite) if e["type"] == config.type
                        and all(config.kwargs.get(k) == v for k, v in e["kwargs"].items()))
        failures.append((position, failure(suite[position], details.get("unexpected_count"),
                                           examples or [details.get("observed_value")])))
    return SuiteResult(suite=name, rows=len(frame), evaluated=len(result.results),
                       failures=[f for _, f in sorted(failures, key=lambda pair: pair[0])])  # the suite's order


def run_suite(name: str, frame: pd.DataFrame, warnings: bool = False) -> SuiteResult:
    """Validate `frame` with suite `name` (its warnings suite when `warnings`); examples are identified by the
    table's key (its catalogue entry's)."""
    return run_expectations(suite_name(name, warnings), expectations(name, warnings), frame, CATALOGUE[name].key)
