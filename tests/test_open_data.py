"""The open data is a valid data package, safe to open in a spreadsheet, suppresses small samples, and its roll-ups
agree with the KPI tables they are built from."""

import csv
import json

import duckdb
import polars as pl
import pytest
from frictionless import validate

from pipelines.defs.publishing.open_data import PUBLISHED, csv_column
from transforms.catalogue import COLUMNS, published as published_tables
from tests.conftest import LAST
from transforms.domain import CHANNELS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def published(store, name: str) -> pl.DataFrame:
    return pl.read_parquet(store.published / f"{name}.parquet")


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_data_package_validates_with_frictionless(built):
    store, _, _ = built
    report = validate(str(store.published / "datapackage.json"))
    assert report.flatten(["rowNumber", "fieldName", "type", "message"]) == []
    assert report.valid
    assert len(report.tasks) == len(PUBLISHED)


def test_data_package_describes_every_file_with_types_units_and_licence(built):
    store, _, _ = built
    package = json.loads((store.published / "datapackage.json").read_text(encoding="utf-8"))
    assert package["licenses"] == [{
        "name": "OGL-UK-3.0", "title": "Open Government Licence v3.0",
        "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"}]
    resources = {r["name"]: r for r in package["resources"]}
    assert set(resources) == set(PUBLISHED)
    assert {p.name for p in store.published.glob("*.csv")} == {r["path"] for r in resources.values()}
    for name, resource in resources.items():
        parquet = pl.read_parquet(store.published / resource["parquet"])
        assert [f["name"] for f in resource["schema"]["fields"]] == parquet.columns, name
        assert all(f["description"] and f["type"] for f in resource["schema"]["fields"]), name
    # every column the catalogue describes is a column of a warehouse table, published or not (columns.yaml holds no
    # column that no table has); kpi_formation's formed and why_not are the ones no published table has
    with duckdb.connect(str(store.warehouse), read_only=True) as con:
        in_warehouse = {name for (name,) in con.execute("SELECT DISTINCT column_name FROM duckdb_columns()").fetchall()}
    published_columns = {f["name"] for r in resources.values() for f in r["schema"]["fields"]}
    assert set(COLUMNS) - in_warehouse == set()
    assert set(COLUMNS) - published_columns == {"formed", "why_not"}
    cost = {f["name"]: f for f in resources["kpi_cost_per_transaction"]["schema"]["fields"]}
    assert cost["cost_per_transaction_gbp"] == {
        "name": "cost_per_transaction_gbp", "type": "number", "unit": "GBP",
        "description": "Cost per transaction: total cost / completed transactions. The cost is everything it takes to "
                       "run the service (staff, IT, buildings, overheads and contracted work; not setting it up or "
                       "enforcement); a channel's cost is its own plus a share of the costs the channels have in "
                       "common, in proportion to the transactions it handled."}
    assert cost["month"]["type"] == "date" and cost["transactions_completed"]["type"] == "integer"
    assert resources["kpi_digital_take_up"]["schema"]["primaryKey"] == ["service_id", "month"]
    assert {f["name"]: f.get("unit") for f in resources["kpi_digital_take_up"]["schema"]["fields"]}[
        "take_up_change_pp"] == "percentage points"
    # each KPI table carries its definition, worded as at the top of its SQL file
    assert resources["kpi_completion_rate"]["definition"].startswith(
        "Completion rate (GOV.UK Service Manual): transactions completed / transactions started")
    # each channel's name in words (the dashboards read them from here): every channel a return may use, and 'all'
    for name in ("kpi_cost_per_transaction", "kpi_completion_rate", "kpi_user_satisfaction"):
        channel = next(f for f in resources[name]["schema"]["fields"] if f["name"] == "channel")
        assert [c["value"] for c in channel["categories"]] == ["all", *CHANNELS], name
        assert channel["categories"][0] == {"value": "all", "label": "All channels"}
        assert channel["categories"][3] == {"value": "face_to_face", "label": "Face to face"}


def test_no_csv_cell_would_run_as_a_spreadsheet_formula(built):
    store, _, _ = built
    cells = 0
    for path in sorted(store.published.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                for cell in row:
                    cells += 1
                    assert not (cell.startswith(FORMULA_START) and not is_number(cell)), (path.name, cell)
    assert cells > 10_000
    # the seeded '-' marker is kept as sent in Parquet and neutralised in CSV
    quarantine = published(store, "quarantine")
    assert "-" in quarantine["offending_value"].to_list()
    rows = list(csv.DictReader((store.published / "quarantine.csv").open(encoding="utf-8")))
    assert "'-" in [r["offending_value"] for r in rows]


def test_formula_neutralising_keeps_numbers_and_plain_text():
    values = ["=1+1", "+44 20 7946 0000", "-", "-12.5", "+3", "@SUM(A1)", "\tx", "plain", "a=b", None]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (v VARCHAR, tags VARCHAR[])")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(v, ["=x", "y"]) for v in values])
    result = con.execute(f"SELECT {csv_column('v', 'VARCHAR')}, {csv_column('tags', 'VARCHAR[]')} FROM t").fetchall()
    assert [r[0] for r in result] == ["'=1+1", "'+44 20 7946 0000", "'-", "-12.5", "+3", "'@SUM(A1)", "'\tx", "plain",
                                      "a=b", None]
    assert {r[1] for r in result} == {"'=x;y"}


def test_money_reaches_csv_with_a_fixed_number_of_decimals(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (13095403.729999999, 28.88531, 5.0), (NULL, 0.1, -0.004)) "
                "AS t (cost_gbp, cost_per_transaction_gbp, counterfactual_saving_gbp)")
    columns = [("cost_gbp", "DOUBLE"), ("cost_per_transaction_gbp", "DOUBLE"), ("counterfactual_saving_gbp", "DOUBLE")]
    select = f"SELECT {', '.join(csv_column(c, t) for c, t in columns)} FROM t"
    con.execute(f"COPY ({select}) TO '{tmp_path / 't.csv'}' (FORMAT csv, HEADER true)")
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines() == [
        "cost_gbp,cost_per_transaction_gbp,counterfactual_saving_gbp",
        "13095403.73,28.8853,5.00",
        ",0.1000,0.00"]


def test_control_characters_reach_csv_escaped_and_parquet_as_sent(tmp_path):
    values = ["12\x003", "\x1b[31mred", "=\x07", "tab\tand\r\nnew line", "\x7f", "back\\slash"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (v VARCHAR, tags VARCHAR[])")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(v, [v]) for v in values])
    select = f"SELECT {csv_column('v', 'VARCHAR')}, {csv_column('tags', 'VARCHAR[]')} FROM t"
    con.execute(f"COPY ({select}) TO '{tmp_path / 't.csv'}' (FORMAT csv, HEADER true)")
    con.execute(f"COPY t TO '{tmp_path / 't.parquet'}' (FORMAT parquet)")
    written = (tmp_path / "t.csv").read_bytes()
    assert not [byte for byte in written if byte < 0x20 and byte not in b"\t\r\n" or byte == 0x7F]
    expected = ["12\\x003", "\\x1b[31mred", "'=\\x07", "tab\tand\r\nnew line", "\\x7f", "back\\slash"]
    assert [r[0] for r in duckdb.sql(f"SELECT v FROM read_csv('{tmp_path / 't.csv'}', all_varchar=true)").fetchall()
            ] == expected
    assert [r[0] for r in duckdb.sql(f"SELECT tags FROM read_csv('{tmp_path / 't.csv'}', all_varchar=true)"
                                     ).fetchall()] == expected
    assert [r[0] for r in duckdb.sql(f"SELECT v FROM '{tmp_path / 't.parquet'}'").fetchall()] == values


def test_satisfaction_from_few_responses_is_suppressed_with_a_marker(built):
    store, _, _ = built
    table = published(store, "kpi_user_satisfaction")
    small = table.filter((pl.col("responses") > 0) & (pl.col("responses") < 30))
    assert small.height > 50
    for column in ("satisfaction_score", "satisfaction_score_ci_low", "satisfied_share", "rating_1", "rating_5"):
        assert small[column].null_count() == small.height
    assert small["suppression_note"].unique().to_list() == ["suppressed: fewer than 30 responses"]
    large = table.filter(pl.col("responses") >= 30)
    assert large["suppression_note"].null_count() == large.height
    with store.connect() as con:
        warehouse = con.execute("SELECT service_id, month, channel, satisfaction_score FROM kpi_user_satisfaction "
                                "WHERE responses >= 30 ORDER BY ALL").fetchall()
    assert large.select("service_id", "month", "channel", "satisfaction_score").sort(
        "service_id", "month", "channel").rows() == warehouse
    # the roll-ups and the service summary follow the same rule
    few = published(store, "kpi_service_summary").filter(pl.col("satisfaction_responses") < 30)
    assert few.height > 0
    assert few["satisfaction_score"].null_count() == few.height
    assert few["suppression_note"].unique().to_list() == ["suppressed: fewer than 30 responses"]


def test_no_published_table_carries_satisfaction_from_fewer_than_30_responses(four_responses):
    store, figures = four_responses
    assert {0.8125, 0.75, 3.25, 9.75, 81.25, 75.0} <= figures
    # every table that speaks of satisfaction says in the catalogue which of its columns are satisfaction figures
    for table in published_tables():
        frame = pl.read_parquet(store.published / f"{table.publish_as}.parquet")
        speaks = [c for c in frame.columns if "satisf" in c or "responses" in c or c.startswith("rating_")
                  or (c == "kpi" and "user_satisfaction" in frame[c].to_list())]
        assert not speaks or table.satisfaction, (table.name, speaks)
    con = duckdb.connect()
    carriers = [table for table in published_tables() if table.satisfaction]
    assert [t.name for t in carriers] == ["satisfaction_method_drift", "kpi_user_satisfaction", "kpi_by_period",
                                          "kpi_rollups", "kpi_rollups_by_period", "kpi_service_summary"]
    shown = []  # (file, column, the figures it shows): every one a leak
    for table in carriers:
        rule = table.satisfaction
        for extension in ("parquet", "csv"):
            path = store.published / f"{table.publish_as}.{extension}"
            rows = con.sql(f"SELECT * FROM '{path}' WHERE {rule.rows or 'true'}").pl()
            if rule.responses:  # rows with no responses have no figure to withhold
                rows = rows.filter(pl.col(rule.responses) > 0)
            assert rows.height > 0, path.name
            shown += [(path.name, column, rows[column].drop_nulls().to_list()) for column in rule.figures
                      if rows[column].drop_nulls().len()]
            notes = rows["suppression_note"].unique().to_list() if "suppression_note" in rows.columns else None
            if notes != ["suppressed: fewer than 30 responses"]:
                shown.append((path.name, "suppression_note", notes))
    # and no published cell anywhere holds one of the figures those 4 responses give, whatever its column
    for table in published_tables():
        frame = pl.read_parquet(store.published / f"{table.publish_as}.parquet")
        for column in frame.columns:
            if frame[column].dtype.is_float():
                leaked = set(frame[column].drop_nulls().round(6).to_list()) & figures
                if leaked and not any(s[:2] == (f"{table.publish_as}.parquet", column) for s in shown):
                    shown.append((f"{table.publish_as}.parquet", column, sorted(leaked)))
    assert shown == [], "\n".join(map(str, shown))


def government(store, kpi: str, month: str) -> dict:
    rollups = published(store, "kpi_rollups")
    return rollups.filter((pl.col("level") == "government") & (pl.col("kpi") == kpi)
                          & (pl.col("month").cast(pl.Utf8) == month)).row(0, named=True)


def test_government_totals_are_volume_weighted_with_coverage_and_like_for_like_change(built):
    store, _, _ = built
    cost = published(store, "kpi_cost_per_transaction").filter(
        (pl.col("channel") == "all") & pl.col("cost_per_transaction_gbp").is_not_null())
    latest = cost.filter(pl.col("month").cast(pl.Utf8) == LAST)
    previous = cost.filter(pl.col("month").cast(pl.Utf8) == "2025-11-01")
    row = government(store, "cost_per_transaction", LAST)
    assert row["value"] == pytest.approx(latest["cost_gbp"].sum() / latest["transactions_completed"].sum(), abs=1e-4)
    services = published(store, "service_catalogue").height
    assert (row["services_reporting"], row["services_expected"]) == (latest.height, services)
    assert row["coverage"] == pytest.approx(latest.height / services)
    both = set(latest["service_id"]) & set(previous["service_id"])
    now = latest.filter(pl.col("service_id").is_in(both))
    before = previous.filter(pl.col("service_id").is_in(both))
    expected = (now["cost_gbp"].sum() / now["transactions_completed"].sum()
                / (before["cost_gbp"].sum() / before["transactions_completed"].sum()) - 1) * 100
    assert row["like_for_like_services"] == len(both)
    assert row["change_vs_previous_month"] == pytest.approx(expected)
    assert row["financial_year"] == "2025-26" and row["change_unit"] == "percent"

    take_up = published(store, "kpi_digital_take_up").filter(
        (pl.col("month").cast(pl.Utf8) == LAST) & pl.col("digital_take_up_rate").is_not_null())
    row = government(store, "digital_take_up", LAST)
    assert row["value"] == pytest.approx(take_up["digital_transactions_completed"].sum()
                                         / take_up["transactions_completed"].sum())


def test_a_month_an_agency_did_not_send_is_no_data_with_zero_coverage(built):
    store, _, _ = built
    rollups = published(store, "kpi_rollups").filter(
        (pl.col("level") == "agency") & (pl.col("group_id") == "environment")
        & (pl.col("month").cast(pl.Utf8) == "2025-10-01") & (pl.col("kpi") == "cost_per_transaction"))
    assert rollups.select("value", "services_reporting", "coverage").rows() == [(None, 0, 0.0)]


def test_service_summary_is_the_latest_month_of_each_kpi_table(built):
    store, _, _ = built
    summary = published(store, "kpi_service_summary")
    assert summary.height == published(store, "service_catalogue").height
    assert summary["month"].cast(pl.Utf8).unique().to_list() == [LAST]
    cost = published(store, "kpi_cost_per_transaction").filter(
        (pl.col("channel") == "all") & (pl.col("month").cast(pl.Utf8) == LAST))
    joined = summary.join(cost, on="service_id", suffix="_kpi")
    assert joined.height == summary.height
    assert joined["cost_per_transaction_gbp"].eq_missing(joined["cost_per_transaction_gbp_kpi"]).all()
    # six months of data: nothing a year earlier, so no 12-month change (no data, not 0)
    assert summary["cost_per_transaction_change_12m_pct"].null_count() == summary.height
