"""Quality: the Great Expectations suites of expectations/ as asset checks, the submission and method-drift tables,
and the warnings on late returns and month-on-month jumps.

Blocking checks (schema, keys, impossible values) stop downstream assets in the same run; warnings (outliers,
late returns) are shown in the UI and do not. A failing check reports counts and up to 10 example rows, and a
failing blocking check names where they come from: each example's agency, service, period and source files.
"""

import dagster as dg

from expectations.sql import validate
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore
from pipelines.lib.tables import table_assets
from transforms import sql
from transforms.catalogue import CATALOGUE, TABLES, Table, upstream

quality_assets = table_assets("quality")


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


def _suite_check(table: Table):
    @dg.asset_check(pool=WAREHOUSE_POOL, asset=table.name, name="valid", blocking=True,
                    description=f"Great Expectations suite '{table.name}': schema, keys and impossible values.")
    def valid(store: DataStore) -> dg.AssetCheckResult:
        with store.connect() as con:
            result = validate(con, table.name)
            where = [] if result.success else failing_places(con, result.failures)
        return check_result(result, dg.AssetCheckSeverity.ERROR, where)
    return valid


@dg.asset_check(pool=WAREHOUSE_POOL, asset="kpi_cost_per_transaction", name="month_on_month_jumps",
                description="Warns when a service's volume or cost per transaction moves more than 3x in a month.")
def month_on_month_jumps(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        result = validate(con, "kpi_cost_per_transaction", sql("check_month_on_month"), warnings=True)
    return check_result(result, dg.AssetCheckSeverity.WARN)


@dg.asset_check(pool=WAREHOUSE_POOL, asset="kpi_by_period", name="reported_figures_agree",
                additional_deps=["kpi_cost_per_transaction", "kpi_completion_rate"],
                description="Warns where a figure the publisher reported (cost per transaction, completion rate, a "
                            "total) differs by more than 1% from the same figure computed from its inputs, for a "
                            "period or a month.")
def reported_figures_agree(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        rows = con.execute(sql("check_reported_figures")).fetchall()
    return dg.AssetCheckResult(
        passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        metadata={"disagreements": len(rows), "examples": dg.MetadataValue.json(
            [{"service_id": s, "grain": g, "period_start": p.isoformat(), "figure": f, "reported": r, "computed": c}
             for s, g, p, f, r, c in rows[:10]])})


@dg.asset_check(pool=WAREHOUSE_POOL, asset="submission_status", name="returns_on_time",
                description="Warns about agency returns that are missing or arrived after their due date.")
def returns_on_time(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        problems = con.execute("SELECT agency_id, month, status, due_date FROM submission_status "
                               "WHERE status IN ('missing', 'late') ORDER BY status, agency_id, month").fetchall()
    counts = {s: sum(1 for p in problems if p[2] == s) for s in ("missing", "late")}
    return dg.AssetCheckResult(
        passed=not problems, severity=dg.AssetCheckSeverity.WARN,
        metadata={**counts, "examples": dg.MetadataValue.json(
            [{"agency_id": a, "month": m.isoformat(), "status": s, "due_date": d.isoformat()}
             for a, m, s, d in problems[:10]])})


@dg.asset_check(pool=WAREHOUSE_POOL, asset="stg_service_catalogue", name="services_in_catalogue",
                additional_deps=["stg_transactions", "stg_costs", "stg_satisfaction", "fct_service_month_channel"],
                description="Warns about services with figures in the warehouse that the catalogue no longer has "
                            "(renamed or removed there): months built before the change keep them published.")
def services_in_catalogue(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        rows = con.execute(sql("check_services_in_catalogue")).fetchall()
    where = [f"service {service} of agency {agency}: figures for {first} to {last} are published under an id the "
             "catalogue no longer has; list it again (a renamed service: keep the old id beside the new one) or "
             "re-run those months, which sets its rows aside as unknown_service"
             for service, agency, first, last in rows]
    return dg.AssetCheckResult(
        passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(rows)} service(s) not in the catalogue have figures" if rows else None,
        metadata={"services": len(rows), **({"where": dg.MetadataValue.json(where)} if rows else {})})


suite_checks = [_suite_check(table) for table in TABLES if table.suite]


@dg.asset_check(pool=WAREHOUSE_POOL, asset="submission_accounting", name="accounting_adds_up", blocking=True,
                additional_deps=upstream(CATALOGUE["submission_accounting"]),  # after every stage that writes it
                description="Every file's row accounting adds up: rows read = rows accepted + rows quarantined, the "
                            "rows of markers only among those accepted.")
def accounting_adds_up(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        rows = con.execute(sql("check_accounting")).fetchall()
    return dg.AssetCheckResult(
        passed=not rows, severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(rows)} file(s) whose rows read are not the rows accepted plus quarantined" if rows else None,
        metadata={"files": len(rows), "examples": dg.MetadataValue.json(
            [{"return_type": r, "agency_id": a, "month": m and m.isoformat(), "source_file": f, "file_status": s,
              "rows_read": n, "rows_accepted": ok, "rows_quarantined": q, "rows_markers_only": mo}
             for r, a, m, f, _, s, n, ok, q, mo in rows[:10]])})
