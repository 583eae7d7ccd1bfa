"""The whole graph on a small generated dataset: defects quarantined, rows accounted, outputs true to their KPIs."""

import datetime as dt
import hashlib
import os
import stat

import duckdb
import polars as pl

from pipelines.definitions import defs
from pipelines.defs.publishing.open_data import PUBLISHED
from pipelines.lib.partitions import AGENCIES_TAG
from tests.conftest import BROKEN, published_checksums, run_graph
from transforms.catalogue import TABLES


def query(store, sql: str, params=None) -> list[tuple]:
    with store.connect() as con:
        return con.execute(sql, params or []).fetchall()


def test_run_succeeds_with_every_step(built):
    _, _, result = built
    assert result.success
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    graph = defs.resolve_asset_graph()
    assert materialised == {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_executable}


def test_every_seeded_defect_is_quarantined_with_its_rule(built):
    store, defects, _ = built
    rows = set(query(store, "SELECT source_file, row_number, rule FROM quarantine"))
    row_defects = [d for d in defects if d.rule != "return_missing"]
    assert len(row_defects) == 9
    for defect in row_defects:
        assert (defect.file, defect.row_number, defect.rule) in rows, defect


def test_quarantine_names_file_row_rule_and_value(built):
    store, defects, _ = built
    negative = next(d for d in defects if d.rule == "negative_cost")
    assert query(store, "SELECT agency_id, column_name, offending_value, message FROM quarantine "
                        "WHERE source_file = ? AND row_number = ?", [negative.file, negative.row_number]) == [
        ("passports", "cost_gbp", negative.value, "cost_gbp is negative")]


def test_missing_and_late_returns_are_flagged_by_the_freshness_warning(built):
    store, defects, result = built
    missing = next(d for d in defects if d.rule == "return_missing")
    assert missing.file == "environment/2025-10"
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "returns_on_time")
    assert not check.passed
    # the courts' return is late every fifth month: 2025-09 is the third of the six months generated
    assert check.metadata["examples"].value == [
        {"agency_id": "courts", "month": "2025-09-01", "status": "late", "due_date": "2025-10-20"},
        {"agency_id": "environment", "month": "2025-10-01", "status": "missing", "due_date": "2025-11-15"}]
    assert query(store, "SELECT status, count(*) FROM submission_status GROUP BY status ORDER BY status") == [
        ("late", 1), ("missing", 1), ("received", 58)]


def test_missing_month_is_not_provided_not_zero(built):
    store, _, _ = built
    channels = query(store, "SELECT channels_offered FROM stg_service_catalogue WHERE service_id = 'ENV-001'")[0][0]
    rows = query(store, "SELECT transactions_completed, digital_take_up_rate, missing_inputs FROM kpi_digital_take_up "
                        "WHERE service_id = 'ENV-001' AND month = '2025-10-01'")
    assert rows == [(None, None, "volume not provided: " + ";".join(sorted(channels)))]
    assert query(store, "SELECT cost_per_transaction_gbp, missing_inputs FROM kpi_cost_per_transaction "
                        "WHERE service_id = 'ENV-001' AND month = '2025-10-01' AND channel = 'all'") == [
        (None, "transactions and costs not provided")]


def test_unreadable_file_is_quarantined_whole_and_the_run_goes_on(built):
    store, _, result = built
    assert result.success
    assert query(store, "SELECT row_number, rule, return_type FROM quarantine WHERE source_file = ?", [BROKEN]) == [
        (None, "unreadable_file", "satisfaction")]
    reason = query(store, "SELECT offending_value FROM quarantine WHERE source_file = ?", [BROKEN])[0][0]
    assert "JSONDecodeError" in reason
    # the same agency's other returns for that month were still staged
    assert query(store, "SELECT count(*) > 0 FROM stg_transactions WHERE agency_id = 'pensions' "
                        "AND month = '2025-11-01'") == [(True,)]


def test_row_accounting_holds_for_every_file(built):
    store, _, _ = built
    files = query(store, "SELECT return_type, source_file, file_status, rows_read, rows_accepted, rows_quarantined "
                         "FROM submission_accounting")
    landed = [p for p in store.landing.rglob("*") if p.is_file()]
    # every landed file is accounted for, once per return it carries (a workbook carries three)
    assert {f[1] for f in files} == {p.relative_to(store.landing).as_posix() for p in landed}
    for return_type, source_file, status, read, accepted, quarantined in files:
        assert read == accepted + quarantined, source_file
        if status == "read" and return_type in ("transactions", "costs", "satisfaction"):
            staged = query(store, f"SELECT count(DISTINCT source_row) FROM stg_{return_type} WHERE source_file = ?",
                           [source_file])[0][0]
            assert staged == accepted, source_file
            rejected = query(store, "SELECT count(*) FROM quarantine WHERE source_file = ? AND return_type = ?",
                             [source_file, return_type])[0][0]
            assert rejected == quarantined, source_file


def test_raw_archive_keeps_every_file_unchanged(built):
    store, _, _ = built
    archived = {row[0]: row for row in query(store, "SELECT source_path, sha256, size_bytes, archive_path "
                                                    "FROM raw_submissions")}
    for path in [p for p in store.landing.rglob("*") if p.is_file()]:
        source_path, sha, size, archive_path = archived[path.relative_to(store.landing).as_posix()]
        data = path.read_bytes()
        assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
        copy = store.archive / archive_path
        assert copy.read_bytes() == data
        assert not os.stat(copy).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_published_kpis_satisfy_their_definitions(built):
    store, _, _ = built
    cpt = pl.read_parquet(store.published / "kpi_cost_per_transaction.parquet")
    priced = cpt.filter(pl.col("cost_per_transaction_gbp").is_not_null())
    assert priced.height > 500
    computed = priced["cost_gbp"] / priced["transactions_completed"]
    assert (priced["cost_per_transaction_gbp"] - computed).abs().max() < 0.005
    assert cpt.filter(pl.col("transactions_completed") == 0)["cost_per_transaction_gbp"].null_count() == \
        cpt.filter(pl.col("transactions_completed") == 0).height
    take_up = pl.read_parquet(store.published / "kpi_digital_take_up.parquet")
    rates = take_up["digital_take_up_rate"].drop_nulls()
    assert 0 <= rates.min() and rates.max() <= 1
    assert (take_up["digital_transactions_completed"] <= take_up["transactions_completed"]).all()
    completion = pl.read_parquet(store.published / "kpi_completion_rate.parquet")["completion_rate"].drop_nulls()
    assert 0 < completion.min() and completion.max() <= 1
    satisfaction = pl.read_parquet(store.published / "kpi_user_satisfaction.parquet")
    for column in ("satisfaction_score", "satisfied_share"):
        assert satisfaction[column].min() >= 0 and satisfaction[column].max() <= 1


def test_channel_rows_add_up_to_the_service(built):
    store, _, _ = built
    differences = query(store, """
        SELECT max(abs(s.cost_gbp - c.cost_gbp)) FROM kpi_cost_per_transaction s
        JOIN (SELECT service_id, month, sum(cost_gbp) AS cost_gbp FROM kpi_cost_per_transaction
              WHERE channel <> 'all' GROUP BY ALL HAVING count(cost_gbp) = count(*)) c USING (service_id, month)
        WHERE s.channel = 'all'""")
    assert differences[0][0] < 0.05  # pennies of rounding across at most six channels


def test_published_csv_and_parquet_agree(built):
    store, _, _ = built
    for name in ("kpi_cost_per_transaction", "quarantine"):
        parquet = duckdb.sql(f"SELECT count(*) FROM '{store.published / name}.parquet'").fetchall()
        csv = duckdb.sql(f"SELECT count(*) FROM read_csv('{store.published / name}.csv')").fetchall()
        assert parquet == csv


def test_warehouse_is_written_in_a_format_duckdb_1_4_reads(built):
    store, _, _ = built
    header = store.warehouse.read_bytes()[:20]
    # the main header: checksum, b"DUCK", then the storage version number (67 is what DuckDB 1.4 writes;
    # a default DuckDB 2.x file says 999, which Evidence's bundled DuckDB 1.4 cannot open)
    assert header[8:12] == b"DUCK"
    assert int.from_bytes(header[12:20], "little") == 67


def test_rerunning_a_month_and_the_range_gives_identical_outputs(copied):
    store, _ = copied
    before = published_checksums(store)
    assert {f"{name}.{ext}" for name in PUBLISHED for ext in ("parquet", "csv")} <= set(before)
    one_month = run_graph(store, "2025-09-01", "2025-09-01")
    assert one_month.success
    assert published_checksums(store) == before
    again = run_graph(store)
    assert again.success
    assert published_checksums(store) == before
    raw = next(e for e in again.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "raw_agency_returns")
    assert raw.materialization.metadata["files_new"].value == 0


def test_corrected_resubmission_supersedes_and_keeps_the_original(copied):
    store, _ = copied
    path = store.landing / "land/2025-12/transactions.csv"
    original = path.read_text()
    lines = original.splitlines()
    service, month, channel, started, completed = lines[1].split(",")
    lines[1] = ",".join([service, month, channel, started, str(int(completed) - 10)])
    path.write_text("\n".join(lines) + "\n")
    assert run_graph(store, "2025-12-01", "2025-12-01").success
    assert query(store, "SELECT transactions_completed FROM stg_transactions WHERE service_id = ? AND month = ? "
                        "AND channel = ?", [service, month, channel]) == [(int(completed) - 10,)]
    versions = query(store, "SELECT count(*) FROM raw_submissions WHERE source_path = 'land/2025-12/transactions.csv'")
    assert versions == [(2,)]
    # the first version is accounted for as superseded, naming the version that replaced it
    assert query(store, "SELECT file_status, sha256, superseded_by, rows_read FROM submission_accounting "
                        "WHERE source_file = 'land/2025-12/transactions.csv' ORDER BY file_status") == [
        ("read", hashlib.sha256(path.read_bytes()).hexdigest(), None, len(lines) - 1),
        ("superseded", hashlib.sha256(original.encode()).hexdigest(), hashlib.sha256(path.read_bytes()).hexdigest(), 0)]
    # the revisions table says which published figures changed, from what to what
    revised = query(store, "SELECT table_name, column_name, old_value, new_value FROM revisions WHERE service_id = ? "
                           "AND month = ? AND channel = ? AND column_name = 'transactions_completed' ORDER BY 1",
                    [service, month, channel])
    # (every table keyed by service, month and channel whose catalogue entry records revisions, and that has the
    # column and the row: today kpi_cost_per_transaction and kpi_completion_rate)
    holding = [t.name for t in TABLES if t.revisions and t.key == ("service_id", "month", "channel") and query(
        store, "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = "
        "'transactions_completed'", [t.name]) == [(1,)] and query(
        store, f"SELECT count(*) FROM {t.name} WHERE service_id = ? AND month = ? AND channel = ?",
        [service, month, channel]) == [(1,)]]
    assert holding[:2] == ["kpi_cost_per_transaction", "kpi_completion_rate"]
    assert revised == [(table, "transactions_completed", float(completed), float(completed) - 10)
                       for table in sorted(holding)]
    assert query(store, "SELECT count(DISTINCT (service_id, month)) FROM revisions WHERE grain IS NULL") == [(1,)]
    # kpi_by_period's revisions are the periods that month is part of, named by their start and grain
    periods = query(store, "SELECT DISTINCT service_id, grain, month FROM revisions WHERE table_name = 'kpi_by_period'")
    assert {(s, g) for s, g, _ in periods} <= {(service, "quarter"), (service, "financial_year")}
    assert (service, "quarter", dt.date(2025, 10, 1)) in periods


def test_a_stray_file_beside_a_central_file_or_outside_every_agency_is_accounted_for_by_name(copied):
    store, _ = copied
    register = (store.landing / "benefits" / "benefits_register.csv").read_bytes()
    strays = {"benefits/empty.csv": b"", "benefits/benefits_register (copy).csv": register[:40],
              "catalogue/services.xlsx": bytes(range(256)), "readme.txt": b"where the files go\n",
              "retired_agency/2025-12/transactions.csv": b"a,b\n1,2\n"}
    for rel, data in strays.items():
        (store.landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (store.landing / rel).write_bytes(data)
    assert run_graph(store, "2025-12-01", "2025-12-01").success
    accounting = pl.read_csv(store.published / "submission_accounting.csv", infer_schema_length=0)
    assert accounting.filter(pl.col("source_file").is_in(list(strays))).select(
        "source_file", "return_type", "agency_id", "month", "file_status", "rows_read").sort("source_file").rows() == [
        ("benefits/benefits_register (copy).csv", "not_recognised", None, None, "not_recognised", "0"),
        ("benefits/empty.csv", "not_recognised", None, None, "not_recognised", "0"),
        ("catalogue/services.xlsx", "not_recognised", None, None, "not_recognised", "0"),
        ("readme.txt", "not_recognised", None, None, "not_recognised", "0"),
        ("retired_agency/2025-12/transactions.csv", "not_recognised", None, None, "not_recognised", "0")]
    quarantine = pl.read_csv(store.published / "quarantine.csv", infer_schema_length=0)
    assert quarantine.filter(pl.col("source_file").is_in(list(strays))).select(
        "source_file", "rule", "offending_value", "message").sort("source_file").rows() == [
        ("benefits/benefits_register (copy).csv", "file_not_recognised", "benefits_register (copy).csv",
         "no central file is named 'benefits_register (copy).csv' (data/landing/benefits/ holds "
         "benefits_register.csv only): rename the file if it is that one, or move it out of data/landing/"),
        ("benefits/empty.csv", "file_not_recognised", "empty.csv",
         "no central file is named 'empty.csv' (data/landing/benefits/ holds benefits_register.csv only): rename "
         "the file if it is that one, or move it out of data/landing/"),
        ("catalogue/services.xlsx", "file_not_recognised", "services.xlsx",
         "no central file is named 'services.xlsx' (data/landing/catalogue/ holds services.csv only): rename the "
         "file if it is that one, or move it out of data/landing/"),
        ("readme.txt", "folder_not_an_agency", "(none)",
         "the file is in data/landing/ itself: move it to data/landing/<agency>/<YYYY-MM>/, or add the agency to "
         "sources.yaml"),
        ("retired_agency/2025-12/transactions.csv", "folder_not_an_agency", "retired_agency",
         "the file is in the folder 'retired_agency', which is no agency's in sources.yaml: move it to "
         "data/landing/<agency>/<YYYY-MM>/, or add the agency to sources.yaml")]
    # removed, they stay on record through a run limited to some agencies, and leave it with the next whole run
    for rel in strays:
        (store.landing / rel).unlink()
    stray_rows = "SELECT count(*) FROM submission_accounting WHERE return_type = 'not_recognised' AND agency_id IS NULL"
    assert run_graph(store, "2025-12-01", "2025-12-01", tags={AGENCIES_TAG: "land"}).success
    assert query(store, stray_rows) == [(5,)]
    assert run_graph(store, "2025-12-01", "2025-12-01").success
    assert query(store, stray_rows) == [(0,)]
