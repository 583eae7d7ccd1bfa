"""Real published data onboarded by configuration alone (issue 11): the figures that come out equal the ones
computed here, independently, from the raw files; and each new mapping feature on a tiny frame."""

import csv
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.lib.partitions import configured_first_month
from pipelines.lib.tables import build_months, build_table
from pipelines.lib.warehouse import bootstrap
from transforms import sql
from transforms.catalogue import CATALOGUE
from transforms.layouts import matches_file
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.staging import normalise, validate

ROOT = Path(__file__).parents[1]
SERVICE_PAGE = ROOT / "dashboards" / "pages" / "services" / "[service_id].md"
GROUP_PAGE = ROOT / "dashboards" / "pages" / "[groups]" / "[group].md"  # a department's and an agency's
REAL = ROOT / "tests" / "fixtures"  # published files copied unchanged: tests/fixtures/README.md
UK = REAL / "uk_transactions_explorer" / "services.csv"
CA = {"2017-03": "2016-2017", "2018-03": "2017-2018", "2019-03": "2018-2019"}
QUARTER_START = {"Jan": 1, "Apr": 4, "Jul": 7, "Oct": 10}
AU = {"dashboard-data.json": "au-performance-dashboard", "dibp-data.json": "au-citizenship-appointments",
      "medicare-enrolment-data.json": "au-medicare-newborn-enrolment"}
CA_CHANNELS = ("online_applications", "telephone_applications", "in_person_applications",
               "postal_mail_applications", "other_applications")


def number(cell: str) -> int | None:
    cell = cell.strip().replace(",", "")
    return int(float(cell)) if cell.replace(".", "", 1).isdigit() else None


def land_australia(landing: Path) -> None:
    """The DTA dashboard's three JSON files for 2017-01; their services are in the central catalogue (the files
    describe none)."""
    (landing / "au_dta" / "2017-01").mkdir(parents=True)
    for name in AU:
        shutil.copy(REAL / "au_dta" / name, landing / "au_dta" / "2017-01")
    (landing / "catalogue").mkdir()
    (landing / "catalogue" / "services.csv").write_text(
        "service_id,service_name,agency_id,department,category,customer_type,channels_offered,high_volume\n"
        + "".join(f"{sid},{sid},au_dta,Digital Transformation Agency,,,,\n" for sid in AU.values()))


def run_pipeline(root: Path) -> subprocess.CompletedProcess:
    """python -m pipelines.run (as `make run`) over root/data with the real-data configuration."""
    (root / "home").mkdir()
    env = {**os.environ, "PIPELINE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home"),
           "PIPELINE_CONFIG_DIR": str(ROOT / "config" / "examples" / "real")}
    return subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """The whole graph (python -m pipelines.run, as `make run`) over the real files and two misnamed ones."""
    root = tmp_path_factory.mktemp("real")
    landing = root / "data" / "landing"
    (landing / "uk_transactions_explorer" / "2017-12").mkdir(parents=True)
    shutil.copy(UK, landing / "uk_transactions_explorer" / "2017-12" / "services.csv")
    for month, year in CA.items():
        (landing / "ca_service_inventory" / month).mkdir(parents=True)
        shutil.copy(REAL / "ca_service_inventory" / f"{year}_services.csv", landing / "ca_service_inventory" / month)
    land_australia(landing)
    (landing / "ca_service_inventory" / "2019-03" / "Transactions.csv").write_text("a,b\n1,2\n")
    (landing / "ca_service_inventory" / "latest").mkdir()
    (landing / "ca_service_inventory" / "latest" / "2019-2020_services.csv").write_text("a,b\n1,2\n")
    (landing / "uk_transactions_explorer" / "2011-12").mkdir()
    (landing / "uk_transactions_explorer" / "2011-12" / "services.csv").write_text("a,b\n1,2\n")
    done = run_pipeline(root)
    # the 2011-12 folder is before the first partition: set aside by the run, and accounted for by name below
    assert "monthly_cycle 2017-01 to 2019-03: succeeded" in done.stdout, done.stdout + done.stderr[-3000:]
    return duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)


def uk_expected() -> tuple[dict, set]:
    """(service, grain, period_start) -> (total, digital, reported CPT), and the periods with digital above total."""
    expected, above = {}, set()
    with UK.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    for row in rows[1:]:
        cells = dict(zip(header, row))
        slug = cells["Slug"]
        for year in range(2012, 2018):
            for q in range(1, 5):
                label = f"{year}-Q{q}"
                parts = [cells.get(f"{label} {m}", "") for m in ("Vol.", "Digital vol.", "CPT (£)", "Digital CPT (£)",
                                                                   "Completion rate", "User satisfaction")]
                if f"{label} Vol." in header and any(p.strip() for p in parts):
                    end = dt.date(year, 3 * q, 1)
                    start = dt.date(end.year - 1 + (end.month == 12), end.month % 12 + 1, 1)
                    grain = "financial_year" if start.month == 4 else "rolling_12_months"
                    cpt = parts[2].strip().replace(",", "")
                    cpt = float(cpt) if cpt.replace(".", "", 1).isdigit() else None
                    expected[(slug, grain, start)] = (number(parts[0]), number(parts[1]), cpt)
        for column in header:
            if column.startswith("Total transactions\n"):
                period = column.split("\n")[1]
                total, digital = cells[column], cells.get(f"Digital transactions\n{period}", "")
                if total.strip() or digital.strip():
                    start = dt.date(int(period[-4:]), QUARTER_START[period[:3]], 1)
                    expected[(slug, "quarter", start)] = (number(total), number(digital), None)
    for key, (total, digital, _) in list(expected.items()):
        if total is not None and digital is not None and digital > total:
            above.add(key)
            del expected[key]
    return expected, above


def test_uk_every_service_and_period_equals_the_spreadsheet(warehouse):
    expected, above = uk_expected()
    got = {(s, g, p): (t, d, cpt, rate) for s, g, p, t, d, cpt, rate in warehouse.execute(
        "SELECT service_id, grain, period_start, transactions_completed, digital_transactions_completed, "
        "reported_cost_per_transaction_gbp, digital_take_up_rate FROM kpi_by_period "
        "WHERE source = 'submitted' AND channel = 'all' AND service_id IN "
        "(SELECT service_id FROM stg_service_catalogue WHERE agency_id = 'uk_transactions_explorer')").fetchall()}
    assert {k: v[:3] for k, v in got.items()} == expected
    for key, (total, digital, _, rate) in got.items():
        assert rate == (digital / total if total and digital is not None else None), key
    quarantined = warehouse.execute("SELECT count(*) FROM quarantine WHERE rule = 'digital_above_total'").fetchone()
    assert quarantined[0] == len(above) == 28


def ca_expected() -> dict:
    """(service, financial year start) -> (online, total) where the service's id is unique in its year."""
    expected = {}
    for year in CA.values():
        with (REAL / "ca_service_inventory" / f"{year}_services.csv").open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        ids = [r["service_id"] for r in rows]
        for row in rows:
            if ids.count(row["service_id"]) > 1:
                continue
            values = [row[c].strip() for c in CA_CHANNELS]
            total = sum(int(v) for v in values) if all(v.isdigit() for v in values) else None
            online = int(values[0]) if values[0].isdigit() else None
            expected[(row["service_id"], dt.date(int(year[:4]), 4, 1))] = (online, total)
    return expected


def test_canadian_inventory_equals_the_files_and_nd_makes_a_total_unknown(warehouse):
    rows = warehouse.execute(
        "SELECT a.service_id, a.period_start, o.transactions_completed, a.transactions_completed, a.missing_inputs "
        "FROM kpi_by_period AS a LEFT JOIN kpi_by_period AS o ON o.service_id = a.service_id AND o.channel = "
        "'online' AND o.period_start = a.period_start AND o.source = a.source "
        "WHERE a.source = 'submitted' AND a.channel = 'all' AND a.grain = 'financial_year' AND a.service_id IN "
        "(SELECT service_id FROM stg_service_catalogue WHERE agency_id = 'ca_service_inventory')").fetchall()
    got = {(s, p): (online, total) for s, p, online, total, _ in rows}
    expected = ca_expected()
    assert set(got) == set(expected)
    assert {k: v[1] for k, v in got.items() if expected[k][1] is not None} == {
        k: v[1] for k, v in expected.items() if v[1] is not None}
    assert {k: v[0] for k, v in got.items() if expected[k][0] is not None} == {
        k: v[0] for k, v in expected.items() if v[0] is not None}
    # a service that sent only 'ND' is there, as not provided, never absent
    markers_only = [r for r in rows if r[0] == "1599"]
    assert [(r[3], r[4]) for r in markers_only] == [
        (None, "not provided: face_to_face, online, other, paper, phone")]


def test_every_file_is_accounted_for_by_name(warehouse):
    assert warehouse.execute(
        "SELECT source_file, rule FROM quarantine WHERE return_type = 'not_recognised' ORDER BY 1").fetchall() == [
        ("ca_service_inventory/2019-03/Transactions.csv", "file_not_recognised"),
        ("ca_service_inventory/latest/2019-2020_services.csv", "folder_not_a_month"),
        ("uk_transactions_explorer/2011-12/services.csv", "folder_before_first_month")]
    statuses = warehouse.execute("SELECT file_status, count(*) FROM submission_accounting "
                                 "WHERE return_type IN ('transactions', 'not_recognised') GROUP BY 1 ORDER BY 1")
    assert statuses.fetchall() == [("not_recognised", 3), ("read", 7)]


def test_an_annual_agency_has_no_monthly_rows_and_no_phantom_missing_months(warehouse):
    # one row a year, each March (the files were copied today, long after their due dates: late)
    assert warehouse.execute("SELECT month, status FROM submission_status WHERE agency_id = 'ca_service_inventory' "
                             "ORDER BY month").fetchall() == [
        (dt.date(2017, 3, 1), "late"), (dt.date(2018, 3, 1), "late"), (dt.date(2019, 3, 1), "late")]
    assert warehouse.execute("SELECT count(*) FROM kpi_digital_take_up").fetchone() == (0,)


def test_a_return_from_2011_is_loaded_when_the_first_month_allows_it(tmp_path):
    frame = pl.DataFrame({"service_id": ["S1", "S1"], "month": ["2011-03", "2011-03"], "channel": ["online", "phone"],
                          "transactions_completed": ["10", "30"], "_source_file": ["f", "f"], "_row_number": [1, 2]})
    catalogue = pl.DataFrame({"service_id": ["S1"], "agency_id": ["a"], "channels_offered": [["online", "phone"]]})
    accepted, failed = validate(normalise(frame, AS_SENT, "transactions"), "transactions", "a", "2011-03-01", catalogue,
                                first_month="2011-01-01")
    assert accepted["transactions_completed"].to_list() == [10, 30] and failed.height == 0
    _, refused = validate(normalise(frame, AS_SENT, "transactions"), "transactions", "a", "2011-03-01", catalogue,
                          first_month="2012-01-01")
    assert refused["rule"].to_list() == ["period_before_first_month"] * 2
    (tmp_path / "sources.yaml").write_text("first_month: 2011-01\nagencies: []\n")
    assert configured_first_month(tmp_path) == "2011-01"


def test_unpivot_without_a_total_and_file_name_patterns():
    frame = pl.DataFrame({"id": ["S1"], "fy": ["2018-2019"], "web": ["5"], "post": ["ND"], "_source_file": ["f"],
                          "_row_number": [1]})
    layout = ReturnLayout(file="t.csv", rename={"id": "service_id", "fy": "month"}, ambiguous=["ND"],
                          unpivot={"value": "transactions_completed", "columns": {"web": "online", "post": "paper"}})
    long = normalise(frame, layout, "transactions")
    assert long.select("channel", "transactions_completed", "grain").rows() == [
        ("online", "5", "financial_year"), ("paper", None, "financial_year")]
    assert matches_file("{fiscal_year}_services.csv", "2019-2020_services.csv")
    assert matches_file("*_services.csv", "2016-2017_services.csv") and not matches_file("services.csv", "x.csv")


def test_reported_cost_per_transaction_beside_the_computed_one_and_the_warning():
    con = duckdb.connect()
    bootstrap(con)
    con.execute("INSERT INTO stg_service_catalogue VALUES ('S1', 'One', 'AG1', 'Dept', NULL, NULL, "
                "['online', 'phone'], NULL, NULL)")
    quarter = "DATE '2016-01-01', DATE '2016-03-31', 'quarter', 'S1', DATE '2016-03-01'"
    con.execute(f"""INSERT INTO stg_transactions (period_start, period_end, grain, service_id, month, channel,
        transactions_completed, reported_transactions_completed, reported_cost_per_transaction_gbp, agency_id,
        source_file, source_row) VALUES
        ({quarter}, 'online', 300, NULL, NULL, 'AG1', 'f', 1), ({quarter}, 'phone', 100, NULL, NULL, 'AG1', 'f', 1),
        ({quarter}, 'all', NULL, 400, 2.5, 'AG1', 'f', 1)""")
    con.execute(f"INSERT INTO stg_costs VALUES ({quarter}, 'staff', 'shared', 1200, 'AG1', 'f', 1)")
    for table in ("fct_service_month_channel", "fct_service_month"):
        build_months(con, CATALOGUE[table], dt.date(2016, 1, 1), dt.date(2016, 4, 1))
    for table in ("submission_status", "kpi_by_period", "kpi_cost_per_transaction", "kpi_completion_rate"):
        build_table(con, CATALOGUE[table])
    assert con.execute("SELECT transactions_completed, total_basis, cost_per_transaction_gbp, "
                       "reported_cost_per_transaction_gbp, digital_take_up_rate FROM kpi_by_period "
                       "WHERE channel = 'all' AND source = 'submitted'").fetchall() == [
        (400, "channels", 3.0, 2.5, 0.75)]
    assert con.execute(sql("check_reported_figures")).fetchall() == [
        ("S1", "quarter", dt.date(2016, 1, 1), "cost_per_transaction_gbp", 2.5, 3.0)]


def with_years_from_quarters(expected: dict) -> dict:
    """A financial year added up from its four reported quarters, where the year itself was not sent."""
    figures = dict(expected)
    for slug, grain, start in list(expected):
        if grain != "quarter" or start.month != 4 or (slug, "financial_year", start) in expected:
            continue
        quarters = [expected.get((slug, "quarter", dt.date(start.year + (m < 4), m, 1))) for m in (4, 7, 10, 1)]
        if all(q is not None and q[0] is not None for q in quarters):
            digital = sum(q[1] for q in quarters) if all(q[1] is not None for q in quarters) else None
            figures[(slug, "financial_year", start)] = (sum(q[0] for q in quarters), digital, None)
    return figures


def test_uk_roll_ups_per_period_are_sum_over_sum_of_the_spreadsheet(warehouse):
    expected = with_years_from_quarters(uk_expected()[0])
    sums = {}
    for (_, grain, start), (total, digital, _) in expected.items():
        if total and digital is not None:
            parts = sums.setdefault((grain, start), [0, 0, 0])
            parts[0], parts[1], parts[2] = parts[0] + digital, parts[1] + total, parts[2] + 1
    got = warehouse.execute(
        "SELECT grain, period_start, value, services_reporting FROM kpi_rollups_by_period WHERE level = 'agency' "
        "AND group_id = 'uk_transactions_explorer' AND kpi = 'digital_take_up'").fetchall()
    assert {(g, p): (v, n) for g, p, v, n in got} == {k: (d / t, n) for k, (d, t, n) in sums.items()}


def test_a_quarterly_service_is_summarised_in_its_latest_period(warehouse):
    expected, _ = uk_expected()
    slug = "ago-reimbursing-witness-expenses"
    # its last figures are the explorer's 12 months to 2017-Q4 (no quarter of its own ends later)
    total, digital, _ = expected[(slug, "rolling_12_months", dt.date(2017, 1, 1))]
    assert warehouse.execute(
        "SELECT grain, period_start, period_end, period_name, transactions_completed, digital_take_up_rate "
        "FROM kpi_service_summary WHERE service_id = ?", [slug]).fetchall() == [
        ("rolling_12_months", dt.date(2017, 1, 1), dt.date(2017, 12, 31), "12 months to Dec 2017", total,
         digital / total)]


def test_a_service_that_sent_only_markers_is_counted(warehouse):
    with (REAL / "ca_service_inventory" / "2018-2019_services.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = [[r[c].strip() for c in CA_CHANNELS] for r in csv.DictReader(f)]
    only_markers = sum(1 for r in rows if not any(v.isdigit() for v in r) and "ND" in r)
    assert warehouse.execute("SELECT rows_markers_only FROM submission_accounting WHERE source_file = "
                             "'ca_service_inventory/2019-03/2018-2019_services.csv' AND return_type = 'transactions'"
                             ).fetchall() == [(only_markers,)]


def test_a_monthly_total_beside_digital_only_gives_take_up_over_the_reported_total():
    frame = pl.DataFrame({"id": ["S1"], "m": ["2025-03"], "Online": ["30"], "Total": ["120"], "_source_file": ["f"],
                          "_row_number": [1]})
    layout = ReturnLayout(file="t.csv", rename={"id": "service_id", "m": "month"},
                          unpivot={"value": "transactions_completed", "total": "Total",
                                   "columns": {"Online": "online"}})
    catalogue = pl.DataFrame({"service_id": ["S1"], "agency_id": ["a"],
                              "channels_offered": [["online", "phone", "paper"]]})
    accepted, failed = validate(normalise(frame, layout, "transactions"), "transactions", "a", "2025-03-01",
                                catalogue)
    assert failed.height == 0  # a total beside some of the channels is a reported total, not a broken sum
    con = duckdb.connect()
    bootstrap(con)
    con.execute("INSERT INTO stg_service_catalogue VALUES ('S1', 'One', 'a', 'Dept', NULL, NULL, "
                "['online', 'phone', 'paper'], NULL, NULL)")
    con.register("accepted", accepted.with_columns(pl.lit("a").alias("agency_id")).rename(
        {"_source_file": "source_file", "_row_number": "source_row"}))
    con.execute("INSERT INTO stg_transactions BY NAME SELECT * FROM accepted")
    build_months(con, CATALOGUE["fct_service_month_channel"], dt.date(2025, 3, 1), dt.date(2025, 4, 1))
    build_table(con, CATALOGUE["kpi_digital_take_up"])
    assert con.execute("SELECT transactions_completed, digital_transactions_completed, digital_take_up_rate, "
                       "total_basis, missing_inputs FROM kpi_digital_take_up").fetchall() == [
        (120, 30, 0.25, "reported_total", None)]


def period_name(grain: str, start: dt.date) -> str:
    """A period as people name it, written here from its start (not through the product's SQL)."""
    if grain == "quarter":  # numbered in its April-March year, with its months
        year = start.year - (start.month < 4)
        last = dt.date(start.year, start.month + 2, 1)
        return f"Q{(start.month + 8) % 12 // 3 + 1} {year}-{(year + 1) % 100:02d} ({start:%b}-{last:%b %Y})"
    if grain == "financial_year":
        return f"{start.year}-{(start.year + 1) % 100:02d}"
    end = dt.date(start.year + (start.month > 1), (start.month - 2) % 12 + 1, 1)  # the 12th month
    return f"12 months to {end:%b %Y}"


def page_queries(warehouse, template: Path, sources: tuple[str, ...], **params: str):
    """A page's own SQL as Evidence runs it over the published files (the dashboards' source queries, then the
    page's queries and those it names from queries/, each `${other}` a subquery, each other `${...}` evaluated by
    Node with the pages' own helpers and `params`): a function of a query's name giving its rows."""
    path = warehouse.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    published = Path(path[0]).parent / "published"
    con = duckdb.connect()
    con.execute("CREATE SCHEMA published")
    for source in sources:
        text = (ROOT / "dashboards" / "sources" / "published" / f"{source}.sql").read_text(encoding="utf-8")
        con.execute(f"CREATE TABLE published.{source} AS {text.replace('${published_dir}', str(published))}")
    page_text = template.read_text(encoding="utf-8")
    named = re.findall(r"^  - (\w+): (\S+\.sql)$", page_text.split("\n---\n", 1)[0], re.M)  # the front matter's
    queries = {name: (ROOT / "dashboards" / "queries" / file).read_text(encoding="utf-8") for name, file in named}
    queries |= dict(re.findall(r"```sql (\w+)\n(.*?)```", page_text, re.S))
    for name, query in queries.items():
        while references := [other for other in re.findall(r"\$\{(\w+)\}", query) if other in queries]:
            for other in references:
                query = query.replace(f"${{{other}}}", f"({queries[other]})")
        queries[name] = query
    components = ROOT / "dashboards" / "components"
    evaluate = (f"import {{ groupOf }} from '{components / 'groups.js'}';"
                f"import {{ sqlText }} from '{components / 'sql.js'}';"
                "const [params, texts] = JSON.parse(process.argv[1]);"
                "const run = (text) => new Function('params', 'groupOf', 'sqlText', 'return `' + text + '`;');"
                "console.log(JSON.stringify(Object.fromEntries(Object.entries(texts).map(([name, text]) =>"
                " [name, run(text)(params, groupOf, sqlText)]))));")
    done = subprocess.run(["node", "--input-type=module", "-e", evaluate, json.dumps([params, queries])],
                          capture_output=True, text=True, check=True)
    compiled = json.loads(done.stdout)

    def page(name: str) -> list[dict]:
        return con.sql(compiled[name]).pl().to_dicts()
    return page


def test_a_quarterly_service_page_shows_its_periods_named(warehouse):
    """The service page over the published files: a service with no monthly figures shows its periods, never an
    empty monthly chart."""
    expected, _ = uk_expected()
    slug = max(sorted({s for s, *_ in expected}), key=lambda s: sum(k[0] == s and k[1] == "quarter" for k in expected))
    page = page_queries(warehouse, SERVICE_PAGE, ("kpi_by_period", "kpi_service_summary"), service_id=slug)
    [service] = page("service")
    assert service["grain"] != "month"  # the page shows periods, not months
    periods = page("periods")
    mine = [(g, start, total) for (s, g, start), (total, _, _) in expected.items() if s == slug]
    months = {"quarter": 3, "financial_year": 12, "rolling_12_months": 12}

    def last_day(grain: str, start: dt.date) -> dt.date:
        after = start.month - 1 + months[grain]
        return dt.date(start.year + after // 12, after % 12 + 1, 1) - dt.timedelta(days=1)

    # latest period first (of those ending together, the longest)
    mine.sort(key=lambda m: (-last_day(m[0], m[1]).toordinal(), m[1]))
    assert [(p["period_name"], p["period_end"], p["transactions_completed"]) for p in periods
            if p["source_name"] == "As sent"] == [(period_name(g, start), last_day(g, start), total)
                                                  for g, start, total in mine]
    # the explorer is registered as quarterly and sent nothing after 2017: each quarter due up to the last month
    # anything was landed for (2019-03, the Canadian inventory) is there, not received, with no figures
    due = [dt.date(year, month, 1) for year in (2018, 2019) for month in (3, 6, 9, 12) if (year, month) <= (2019, 3)]
    assert [(p["period_name"], p["transactions_completed"], p["missing_inputs"]) for p in periods
            if p["source_name"] == "Not received"] == [
        (period_name("quarter", d.replace(month=d.month - 2)), None,
         f"not received: the return due by {d.year + d.month // 12}-{d.month % 12 + 1:02d}-15") for d in reversed(due)]
    assert sum(p["grain"] == "quarter" for p in periods) >= 2
    chart = page("periods_chart")
    assert {p["grain"] for p in chart} == {service["grain"]}
    assert [p["period_end"] for p in chart] == sorted(p["period_end"] for p in chart)


def test_a_department_whose_name_has_a_quote_has_its_page(warehouse):
    """The spreadsheet's "Attorney General's Office" is a department name with a quote in it: its page's queries
    find its services and its periods (the name is data in the SQL, never part of it)."""
    department = "Attorney General's Office"
    with UK.open(newline="", encoding="utf-8-sig") as handle:
        mine = {row["Name of service"] for row in csv.DictReader(handle) if row["Department"] == department}
    assert len(mine) == 2
    page = page_queries(warehouse, GROUP_PAGE, ("kpi_rollups", "kpi_rollups_by_period", "kpi_service_summary"),
                        groups="departments", group=department)
    assert sorted(s["service_name"] for s in page("services")) == sorted(mine)
    assert {s["department"] for s in page("services")} == {department}
    assert page("rollup") == []  # a quarterly department has no monthly roll-up: the page is named from its services
    periods = page("periods")
    assert len(periods) > 12 and {(p["level"], p["group_id"]) for p in periods} == {("department", department)}


def test_australian_monthly_reported_kpis_equal_the_json_and_missing_stays_missing(warehouse):
    """The DTA dashboard's series, mostly null: each reported cost per transaction and completion rate (percent in
    the file, 0..1 here) is the month's published figure, marked as reported; a null month has none, never 0."""
    cost, completion = {}, {}
    for name, service in AU.items():
        series = {d["id"]: d["data"] for d in json.loads((REAL / "au_dta" / name).read_text())["datasets"]}
        for point in series.get("cost-per-transaction", []):
            if point["value"] is not None:
                cost[(service, dt.date.fromisoformat(point["label"] + "-01"))] = (point["value"], "reported")
        for point in series.get("completion-rate", []):
            if point["value"] is not None:
                completion[(service, dt.date.fromisoformat(point["label"] + "-01"))] = point["value"] / 100
    got = warehouse.execute("SELECT service_id, month, reported_cost_per_transaction_gbp, cost_per_transaction_basis "
                            "FROM kpi_cost_per_transaction WHERE channel = 'all' AND service_id LIKE 'au-%' "
                            "AND reported_cost_per_transaction_gbp IS NOT NULL").fetchall()
    assert {(s, m): (v, b) for s, m, v, b in got} == cost
    assert cost[("au-performance-dashboard", dt.date(2016, 8, 1))] == (29.44, "reported")  # a few, as read
    rates = dict(((s, m), (r, b)) for s, m, r, b in warehouse.execute(
        "SELECT service_id, month, reported_completion_rate, completion_rate_basis FROM kpi_completion_rate "
        "WHERE channel = 'all' AND service_id LIKE 'au-%' AND reported_completion_rate IS NOT NULL").fetchall())
    assert set(rates) == set(completion) and len(completion) == 25
    assert all(rates[k] == (pytest.approx(v, abs=1e-12), "reported") for k, v in completion.items())
    # the citizenship service reported no cost per transaction in any month: it has none, not 0
    assert not [k for k in cost if k[0] == "au-citizenship-appointments"]
    assert warehouse.execute("SELECT count(*) FROM kpi_cost_per_transaction WHERE service_id = "
                             "'au-citizenship-appointments' AND (cost_per_transaction_gbp IS NOT NULL OR "
                             "reported_cost_per_transaction_gbp IS NOT NULL)").fetchone() == (0,)


def test_preview_quarantines_exactly_what_the_run_did(warehouse, tmp_path):
    """pipelines/preview.py on each file the run read: its quarantine rows are the run's, row for row."""
    from pipelines.lib.config import load_config
    from pipelines.preview import preview_file
    config = load_config(ROOT / "config" / "examples" / "real")
    land_australia(tmp_path / "landing")
    files = [("uk_transactions_explorer", UK, "2017-12")] + [
        ("ca_service_inventory", REAL / "ca_service_inventory" / f"{year}_services.csv", month)
        for month, year in CA.items()] + [("au_dta", REAL / "au_dta" / name, "2017-01") for name in AU]
    for agency, path, month in files:
        found = preview_file(config, agency, path, dt.date.fromisoformat(f"{month}-01"), landing=tmp_path / "landing")
        run = warehouse.execute(
            "SELECT return_type, row_number, rule, column_name, offending_value, message, rows_represented "
            "FROM quarantine WHERE source_file = ? AND return_type IN ('transactions', 'costs', 'satisfaction') "
            "ORDER BY return_type, row_number, rule, column_name, offending_value",
            [found.source_file]).fetchall()
        shown = sorted((q.return_type, q.row_number, q.rule, q.column_name, q.offending_value, q.message,
                        q.rows_represented) for q in found.quarantined if q.return_type != "service_catalogue")
        assert shown == sorted(run), found.source_file


def test_a_run_that_forms_no_take_up_ends_with_a_warning_naming_the_fix(warehouse):
    from pipelines.run import kpis_not_formed
    warnings = [line for line in kpis_not_formed(warehouse) if "ca_service_inventory: digital_take_up" in line]
    affected, services = warehouse.execute(
        "SELECT count(*) FILTER (WHERE NOT formed), count(*) FROM (SELECT service_id, bool_or(formed) AS formed "
        "FROM kpi_formation WHERE agency_id = 'ca_service_inventory' AND kpi = 'digital_take_up' GROUP BY 1)"
    ).fetchone()
    with_take_up = warehouse.execute(
        "SELECT count(DISTINCT service_id) FROM kpi_by_period WHERE digital_take_up_rate IS NOT NULL AND service_id "
        "IN (SELECT service_id FROM stg_service_catalogue WHERE agency_id = 'ca_service_inventory')").fetchone()[0]
    assert services - affected == with_take_up
    assert warnings == [f"\nwarning: ca_service_inventory: digital_take_up could not be formed for {affected} of its "
                        f"{services} services (not provided: phone); to fix: send a figure for every channel "
                        "offered, or a total, or declare the channels offered in the mapping or the catalogue"]
