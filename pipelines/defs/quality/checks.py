"""Quality: the submission and method-drift tables, the row accounting's blocking check, and the warnings on late
returns, month-on-month jumps, reported figures and services the catalogue no longer has.

The Great Expectations suites of expectations/ (each table's blocking check `valid`: schema, keys, impossible values)
run in their table's own step (pipelines/lib/suites.py). Blocking checks stop downstream assets in the same run;
warnings are shown in the UI and do not. A failing check reports counts and up to 10 example rows, and a failing
suite names where they come from: each example's agency, service, period and source files.
"""

import dagster as dg

from expectations.sql import validate
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore
from pipelines.lib.suites import check_result
from pipelines.lib.tables import table_assets
from transforms import sql
from transforms.catalogue import CATALOGUE, upstream

quality_assets = table_assets("quality")


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
