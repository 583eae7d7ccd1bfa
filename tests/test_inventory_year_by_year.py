"""Issue 23's acceptance on the real Canadian Service Inventory: its three years loaded one after another, each by a
run of its own over one data folder (as `make run` after each drop), leave every earlier year's published rows
byte-identical, Parquet and CSV, until that year's data changes; and each run's summary says exactly what changed."""

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).parents[1]
INVENTORY = ROOT / "tests" / "fixtures" / "ca_service_inventory"  # published files copied unchanged
YEARS = {"2016-2017": "2017-03", "2017-2018": "2018-03", "2018-2019": "2019-03"}  # the folder of its March
YEAR_END = {"2016-2017": "2017-03-31", "2017-2018": "2018-03-31"}
# One row per service, for its latest period: a later year replaces a service's row by design, so it has no
# earlier year's rows to keep.
LATEST_ONLY = {"kpi_service_summary"}
NOTHING_REVISED = "revised: nothing (no published figure changed)"
CORRECTED = ("135", "online_applications", "282", "1282")  # service, column, as published, as re-sent


def records(text: str) -> list[str]:
    """A CSV file's records as their exact text (a quoted cell may hold a newline)."""
    found, start, quoted = [], 0, False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted:
            found.append(text[start:i + 1])
            start = i + 1
    return found + ([text[start:]] if text[start:] else [])


def period_column(columns: list[str]) -> str | None:
    return next((c for c in ("period_end", "month") if c in columns), None)


def earlier_rows(published: Path, table: str, year_end: str, without: str | None = None, after: str = "0001-01-01"):
    """(CSV records, Parquet rows) of `table` whose period ends after `after` and by `year_end`, but those of the
    service `without`; None for a table without periods."""
    lines = records((published / f"{table}.csv").read_text(encoding="utf-8"))
    header = next(csv.reader([lines[0]]))
    column = period_column(header)
    if column is None:
        return None
    at, service = header.index(column), header.index("service_id") if "service_id" in header else None
    kept = [line for line in lines[1:] for row in [next(csv.reader(io.StringIO(line)))]
            if row[at] and after < row[at][:10] <= year_end and (service is None or row[service] != without)]
    rows = duckdb.execute(f"SELECT * FROM read_parquet(?) WHERE CAST({column} AS DATE) <= CAST(? AS DATE) "
                          f"AND CAST({column} AS DATE) > CAST(? AS DATE)"
                          + (" AND service_id IS DISTINCT FROM ?" if service is not None else "") + " ORDER BY ALL",
                          [str(published / f"{table}.parquet"), year_end, after,
                           *([without] if service is not None else [])]).fetchall()
    return kept, rows


def revised_line(stdout: str) -> str:
    block = stdout[stdout.index("\nrevised: ") + 1:]
    return block[:block.index("\n\n")]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Each year dropped in its folder and run; then 2016-17 sent again with one figure corrected. Per step: (a copy
    of data/published after its run, the run's output)."""
    root = tmp_path_factory.mktemp("inventory")
    (root / "home").mkdir()
    env = {**os.environ, "PIPELINE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home"),
           "PIPELINE_CONFIG_DIR": str(ROOT / "config" / "examples" / "real")}
    landing = root / "data" / "landing" / "ca_service_inventory"
    steps = {}

    def run(step: str) -> None:
        done = subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        assert "succeeded" in done.stdout, done.stdout + done.stderr[-3000:]
        steps[step] = (Path(shutil.copytree(root / "data" / "published", root / f"published-{step}")), done.stdout)

    for year, month in YEARS.items():
        (landing / month).mkdir(parents=True)
        shutil.copy(INVENTORY / f"{year}_services.csv", landing / month)
        run(year)
    resent = landing / "2017-03" / "2016-2017_services.csv"
    with resent.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        rows, columns = list(reader), reader.fieldnames
    service, column, before, after = CORRECTED
    for row in rows:
        if row["service_id"] == service:
            assert row[column] == before
            row[column] = after
    with resent.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    run("2016-2017 corrected")
    return steps


def test_a_later_year_leaves_every_earlier_year_published_as_it_was(loaded):
    years = list(YEARS)
    compared = set()
    for k, year in enumerate(years[:-1]):
        published, _ = loaded[year]
        for later in years[k + 1:]:
            for path in sorted(published.glob("*.csv")):
                if path.stem in LATEST_ONLY:
                    continue
                before = earlier_rows(published, path.stem, YEAR_END[year])
                if before is not None:
                    assert earlier_rows(loaded[later][0], path.stem, YEAR_END[year]) == before, (year, later, path)
                    compared.add((path.stem, len(before[0]), len(before[1])))
    # kpi_by_period's rows are there to compare: six for each service sent once in a year (its five channels and
    # all; a service id given twice in a year's file is quarantined), the first year's, then both years'
    once = []
    for year in YEAR_END:
        with (INVENTORY / f"{year}_services.csv").open(encoding="utf-8-sig", newline="") as f:
            ids = [r["service_id"] for r in csv.DictReader(f)]
        once.append(sum(ids.count(i) == 1 for i in ids))
    assert sorted((c, p) for t, c, p in compared if t == "kpi_by_period") == [
        (6 * once[0], 6 * once[0]), (6 * sum(once), 6 * sum(once))]


def test_each_run_says_what_it_revised(loaded):
    assert [revised_line(loaded[year][1]) for year in YEARS] == [NOTHING_REVISED] * 3
    # service 135 sent 'ND' for its phone applications in 2016-17, so its total (and take-up) is unknown: the
    # corrected online count changes that channel's figure and the service's digital count, nothing else
    with (INVENTORY / "2016-2017_services.csv").open(encoding="utf-8-sig", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["service_id"] == CORRECTED[0])
    assert row["telephone_applications"] == "ND"
    assert revised_line(loaded["2016-2017 corrected"][1]) == (
        "revised: 2 published figures changed, 0 of them withdrawn (each in revisions, from what to what):\n"
        "  kpi_by_period financial_year 2016-04: 2 figures of 1 services (0 withdrawn)")
    revisions = duckdb.sql(f"SELECT service_id, month, channel, column_name, old_value, new_value FROM read_parquet("
                           f"'{loaded['2016-2017 corrected'][0] / 'revisions.parquet'}') ORDER BY ALL").fetchall()
    assert [(r[0], str(r[1]), *r[2:]) for r in revisions] == [
        ("135", "2016-04-01", "all", "digital_transactions_completed", 282.0, 1282.0),
        ("135", "2016-04-01", "online", "transactions_completed", 282.0, 1282.0)]


def test_a_corrected_year_changes_its_own_figures_only(loaded):
    corrected, _ = loaded["2016-2017 corrected"]
    published, _ = loaded["2018-2019"]
    # the new version's arrival is recorded in the accounting, status and revisions, and quarantine rows name the
    # version (sha256) of the file they come from
    recorded = {"revisions", "submission_accounting", "submission_status", "quarantine"}
    for path in sorted(published.glob("*.csv")):
        if path.stem not in LATEST_ONLY | recorded:
            # 2016-17 but the corrected service's rows; the other years' own rows, every service's
            for year_end, without, after in (("2017-03-31", CORRECTED[0], "0001-01-01"),
                                             ("2018-03-31", None, "2017-03-31"), ("2019-03-31", None, "2018-03-31")):
                assert earlier_rows(corrected, path.stem, year_end, without, after) == earlier_rows(
                    published, path.stem, year_end, without, after), (year_end, path)
