"""A table's asset and its blocking suite in one Dagster step: the table is built, then its suite (`valid`, the Great
Expectations suite of expectations/, evaluated as DuckDB SQL) runs on the same step's connection.

A step of its own per suite cost events, a connection and about 0.1 s (about 1 s under load) and bought nothing a
user sees: the check is still its own asset check in the UI, with the same verdict, metadata and examples. When it
fails, Dagster records the table's materialisation and the failed check, then fails the step
(DagsterAssetCheckFailedError), so the assets downstream are not run, as they were not behind a separate check step.
The step can be subset, so a check can still be run alone (from the UI, or a selection of checks): it then reads the
table as it is, without rebuilding it.
"""

from collections.abc import Callable, Iterator

import dagster as dg

from expectations.sql import validate
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore
from transforms import sql
from transforms.catalogue import Table


def check_result(result, severity: dg.AssetCheckSeverity, where: list[str] = ()) -> dg.AssetCheckResult:
    """`where`: the failing examples as places a person can look (see failing_places)."""
    return dg.AssetCheckResult(
        passed=result.success,
        severity=severity,
        description="; ".join(f"{f.column or 'the table'}: {f.why}" for f in result.failures) or None,
        metadata={
            "suite": result.suite,
            "rows_checked": result.rows,
            "expectations": result.evaluated,
            "expectations_failed": len(result.failures),
            "failures": dg.MetadataValue.json([vars(f) for f in result.failures]),
            **({"where": dg.MetadataValue.json(list(where))} if where else {}),
        },
    )


def failing_places(con, failures) -> list[str]:
    """Each failing example (up to 10) as a place: agency, service, period and the staged files its figures came
    from; an example that names no service (a table-wide rule) is not a place."""
    asked = {}
    for failure in failures:
        for example in failure.examples:
            if isinstance(example, dict) and example.get("service_id") is not None:
                day = example.get("month") or example.get("period_start")
                asked.setdefault((str(example["service_id"]), str(day)[:10] if day else None), None)
    places = []
    for service, day in list(asked)[:10]:
        for agency, files in con.execute(sql("check_failure_sources"), [service, day]).fetchall():
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            places.append(f"agency {agency or '(not in the catalogue)'}, service {service}, period "
                          f"{day[:7] if day else 'any'}, source files: {shown or 'none staged'}")
    return places


def table_step(table: Table, **spec: object) -> dict:
    """The arguments of `dg.multi_asset` for a table's step, a warehouse writer (in its pool): its one asset (the
    table, described by its catalogue entry; `spec`: more AssetSpec arguments, such as deps and kinds) and, when a
    suite guards it, its blocking check `valid`."""
    checks = [dg.AssetCheckSpec("valid", asset=table.name, blocking=True,
                                description=f"Great Expectations suite '{table.name}': schema, keys and impossible "
                                            "values.")] if table.suite else []
    return dict(name=table.name, can_subset=True, check_specs=checks, pool=WAREHOUSE_POOL,
                specs=[dg.AssetSpec(table.name, group_name=table.stage, description=table.description, **spec)])


def built_then_checked(context: dg.AssetExecutionContext, store: DataStore, table: Table,
                       build: Callable[[], dict]) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The body of a table_step: the table built by `build` (returning its metadata) when it is selected, then its
    suite when that is (a step that fails its blocking check fails after both are recorded)."""
    if dg.AssetKey(table.name) in context.selected_asset_keys:
        yield dg.MaterializeResult(asset_key=table.name, metadata=build())
    if dg.AssetCheckKey(dg.AssetKey(table.name), "valid") in context.selected_asset_check_keys:
        with store.connect() as con:
            result = validate(con, table.name)
            where = [] if result.success else failing_places(con, result.failures)
        yield check_result(result, dg.AssetCheckSeverity.ERROR, where)
