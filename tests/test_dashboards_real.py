"""The dashboards built from real published data: the UK explorer's rows for one department that reports by
quarter and year (its name has a quote in it) and the Australian dashboard's monthly series, through `make run`.
No benefits register, no monthly figure for the department: the site still builds (strict), lists every department
and names its periods, with the figures computed here from the raw rows (screenshots in
screenshots/dashboards-real/)."""

import csv
import datetime as dt
import re

import pytest

from tests.test_dashboards import (assert_accessible, assert_reads_cleanly, browser, build_site,  # noqa: F401
                                   screenshots, serving, table_rows, visit)
from tests.test_real_data import (UK, land_australia, period_name, run_pipeline, uk_expected,
                                  with_years_from_quarters)

pytestmark = [pytest.mark.site, pytest.mark.browser]

DEPARTMENT = "Attorney General's Office"
MONTHS = {"quarter": 3, "financial_year": 12, "rolling_12_months": 12}


@pytest.fixture(scope="module")
def real_site(tmp_path_factory):
    """(base address, build folder, published folder, the department's service slugs) of the site served on
    loopback."""
    root = tmp_path_factory.mktemp("real-site")
    landing = root / "data" / "landing"
    (landing / "uk_transactions_explorer" / "2017-12").mkdir(parents=True)
    with UK.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    mine = [row for row in rows[1:] if row[rows[0].index("Department")] == DEPARTMENT]
    with (landing / "uk_transactions_explorer" / "2017-12" / "services.csv").open("w", encoding="utf-8",
                                                                                   newline="") as f:
        csv.writer(f).writerows([rows[0], *mine])
    land_australia(landing)
    done = run_pipeline(root)
    assert "succeeded" in done.stdout and "failed" not in done.stdout, done.stdout + done.stderr[-3000:]
    published = root / "data" / "published"
    build = build_site(published, root)
    slugs = {row[rows[0].index("Slug")] for row in mine}
    with serving(build) as address:
        yield address, build, published, slugs


def periods_shown(page) -> list[tuple[str, str]]:
    headers, rows = table_rows(page, "periods")
    return [(row[headers.index("Period")], row[headers.index("Digital take-up")]) for row in rows]


def test_a_quarterly_department_is_listed_named_and_shows_its_periods(real_site, browser):  # noqa: F811
    address, _, _, slugs = real_site
    shots = screenshots("dashboards-real")
    page = visit(browser, address, "/departments/", shots, "departments")
    assert sorted(page.locator("article ul a").all_inner_texts()) == [DEPARTMENT, "Digital Transformation Agency"]
    page.close()

    page = visit(browser, address, f"/departments/{DEPARTMENT}/", shots, "department")
    assert page.inner_text("article h1").strip() == DEPARTMENT
    assert "This department's services sent no monthly figures" in page.inner_text("article")
    assert page.inner_text("nav[aria-label='Breadcrumb']").split() == ["Overview", "›", "Departments", "›",
                                                                       *DEPARTMENT.split()]
    # take-up per period, sum over sum of the raw rows of the department's services (a year added up from its
    # quarters where it was not sent), latest period first and of those ending together the longest
    expected = {k: v for k, v in with_years_from_quarters(uk_expected()[0]).items() if k[0] in slugs}
    sums = {}
    for (_, grain, start), (total, digital, _) in expected.items():
        part = sums.setdefault((grain, start), [0, 0])
        if total and digital is not None:
            part[0], part[1] = part[0] + digital, part[1] + total

    def end(grain: str, start: dt.date) -> dt.date:
        after = start.month - 1 + MONTHS[grain]
        return dt.date(start.year + after // 12, after % 12 + 1, 1)

    want = [(period_name(g, s), f"{d / t:.1%}" if t else "no data")
            for g, s in sorted(sums, key=lambda k: (-end(*k).toordinal(), k[1]))
            for d, t in [sums[(g, s)]]]
    shown = periods_shown(page)  # the table's first page of twelve
    figures = [row for row in want if row[1] != "no data"]
    assert len(shown) == 12 and [row for row in shown if row[1] != "no data"] == figures[:sum(
        row[1] != "no data" for row in shown)]
    # a period with other figures but no take-up says so; one the rows give no figure at all for is not listed
    assert {row for row in shown if row[1] == "no data"} <= {row for row in want if row[1] == "no data"}
    assert sum(row[1] != "no data" for row in shown) >= 8
    assert_reads_cleanly(page, "/departments/...")
    assert_accessible(page, "/departments/...")
    page.close()


def test_a_deployment_without_benefits_or_monthly_figures_builds_every_page(real_site, browser):  # noqa: F811
    """No benefits register: the benefits page says so and no benefit page is made; the overview shows the
    government's periods beside the months the Australian series has."""
    address, build, published, slugs = real_site
    assert not (published / "benefits_register.csv").read_text().strip().split("\n")[1:]
    assert sorted(p.name for p in (build / "benefits").iterdir()) == ["index.html"]  # no benefit page
    shots = screenshots("dashboards-real-overview")
    page = visit(browser, address, "/benefits/", shots, "benefits")
    assert " ".join(page.inner_text("article").split()).endswith("No benefits are registered yet: once the benefits "
                                                                 "register lists the benefits promised for these "
                                                                 "services, each is tracked here against its plan.")
    page.close()
    page = visit(browser, address, "/", shots, "overview")
    assert page.locator("[data-table='periods']").count() == 1
    [first, *_] = periods_shown(page)
    assert re.fullmatch(r"Q[1-4] \d{4}|\d{4}-\d{2}|12 months to [A-Z][a-z]{2} \d{4}", first[0]), first
    page.close()
    for slug in sorted(slugs):
        page = visit(browser, address, f"/services/{slug}/", shots, slug)
        assert page.locator("text=Periods reported").count() == 1
        page.close()
