"""The dashboards build offline from the published files alone, and in a real browser at 1366 x 768 every page template
shows the published figures as people write them, its key columns in view, and passes axe-core (screenshots of each
are left in screenshots/dashboards/, git-ignored, for a person to look at)."""

import contextlib
import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl
import pypdf
import pytest
from playwright.sync_api import sync_playwright

from pipelines.defs.publishing.open_data import sql_definition
from tests.operations import BUILD_SECONDS, PAGE_SECONDS, PROCESS_SECONDS

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
AXE = DASHBOARDS / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1366, "height": 768}
COST_AND_TAKE_UP = ["Service", "Cost per transaction", "Change in 12 months", "Digital take-up",
                    "Take-up change in 12 months"]
MINUS_ZERO = re.compile(r"(?<![\w.\-−])[-−]0(?:\.0+)?(?![\d.])")
STRAY_SPACE = re.compile(r"[\w%)] [.,;:](?=\s|$)")


def npm(project: Path, script: str, published: Path, timeout: int) -> None:
    env = {**os.environ, "EVIDENCE_VAR__published_dir": str(published)}
    done = subprocess.run(["npm", "run", script], cwd=project, env=env, timeout=timeout, capture_output=True, text=True)
    assert done.returncode == 0, f"npm run {script} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def build_site(published: Path, folder: Path) -> Path:
    """The dashboards built with build:strict from the files in `published`, in a copy of the project in `folder`
    (node_modules linked from dashboards/, installed by `make dashboards-install`): the build folder."""
    assert (DASHBOARDS / "node_modules" / ".bin" / "evidence").exists(), "run `make dashboards-install` first"
    project = folder / "dashboards"
    shutil.copytree(DASHBOARDS, project, ignore=shutil.ignore_patterns("node_modules", "build", ".evidence",
                                                                       "static"))
    (project / "node_modules").symlink_to(DASHBOARDS / "node_modules")
    npm(project, "sources", published, timeout=PROCESS_SECONDS)
    npm(project, "build:strict", published, timeout=BUILD_SECONDS)
    return project / "build"


@contextlib.contextmanager
def serving(build: Path):
    """The built site served on 127.0.0.1 while the block runs: its address."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(build)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    """(build folder, published folder): the dashboards built from the `built` published files."""
    store, _, _ = built
    return build_site(store.published, tmp_path_factory.mktemp("site")), store.published


@pytest.fixture(scope="module")
def server(site):
    with serving(site[0]) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never `playwright install`: it would download a browser)."""
    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is not installed (`make test` installs it)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield chromium
        chromium.close()


def screenshots(name: str) -> Path:
    """screenshots/<name>/ (git-ignored), emptied first: the pytest folders are shared and pruned."""
    folder = SCREENSHOTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def shots():
    return screenshots("dashboards")


def visit(browser, server: str, path: str, shots: Path, name: str):
    """The page at 1366 x 768 once its queries have run and its tables are drawn; a full-page screenshot beside."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(PAGE_SECONDS * 1000)
    page.goto(f"{server}{path}", wait_until="networkidle")
    page.wait_for_selector("article, main", state="attached")
    page.wait_for_function("!document.body.innerText.includes('Loading...')")
    page.wait_for_timeout(500)  # echarts animates its first frame
    page.screenshot(path=shots / f"{name}.png", full_page=True)
    return page


class MarkedText(HTMLParser):
    """The text inside each element that carries the attribute `marker`, keyed by the attribute's value."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, marker: str):
        super().__init__()
        self.marker, self.open, self.text = marker, [], {}

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            attributes = dict(attrs)
            self.open.append((tag, attributes.get(self.marker) if self.marker in attributes else None))

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        for _, key in self.open:
            if key is not None:
                self.text[key] = self.text.get(key, "") + data


def marked(dom: str, marker: str) -> dict[str, str]:
    parser = MarkedText(marker)
    parser.feed(dom)
    return {key: " ".join(text.split()) for key, text in parser.text.items()}


def number(text: str) -> float:
    return float(text.replace("£", "").replace(",", "").replace("%", "").replace(" pp", ""))


def shown(tile: str, title: str) -> str:
    """The tile's headline figure: the first token after its title."""
    match = re.match(rf"{title} (\S+)", tile)
    assert match, tile
    return match.group(1)


def latest(frame: pl.DataFrame, **where) -> dict:
    for column, value in where.items():
        frame = frame.filter(pl.col(column) == value)
    return frame.sort("month").row(-1, named=True)


def table_rows(page, table: str) -> tuple[list[str], list[list[str]]]:
    """The column titles and the rows' cell texts of the data table shown inside [data-table=<table>]."""
    shown_table = page.locator(f"[data-table='{table}'] table:visible").first
    headers = [" ".join(t.split()) for t in shown_table.locator("th[role=columnheader]").all_inner_texts()]
    rows = [[" ".join(c.split()) for c in row.locator("td[role=cell]").all_inner_texts()]
            for row in shown_table.locator("tr:has(td[role=cell])").all()]
    if headers[-1:] == ["Links"]:  # the arrow that opens a row's page
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    return headers, rows


def assert_key_columns_in_view(page, table: str, titles: list[str]) -> None:
    """Each key column's header is inside the window and inside its table's visible box: no sideways scrolling."""
    box = page.locator(f"[data-table='{table}']").first.bounding_box()
    headers = page.locator(f"[data-table='{table}'] table:visible th[role=columnheader]")
    for title in titles:
        header = headers.filter(has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")).first
        edge = header.bounding_box()
        assert edge, (table, title)
        right = edge["x"] + edge["width"]
        assert edge["x"] >= 0 and right <= min(VIEWPORT["width"], box["x"] + box["width"]) + 1, (table, title, edge)


def assert_reads_cleanly(page, path: str) -> None:
    """No sideways scrolling, no -0, no stray space before punctuation after a value, no Evidence branding."""
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], path
    text = page.inner_text("body")
    assert MINUS_ZERO.findall(text) == [], path
    assert STRAY_SPACE.findall(text) == [], (path, [text[max(0, m.start() - 30):m.end()]
                                                    for m in STRAY_SPACE.finditer(text)])
    assert "Public service performance" in page.inner_text("header")
    assert "Built with Evidence" not in text and page.locator("img[alt='Home']").count() == 0


def assert_accessible(page, path: str) -> None:
    """axe-core with every rule it runs by default (WCAG 2.0-2.2 A and AA, and best practices) finds no violation of
    any severity, minor ones included."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => (await axe.run(document)).violations
        .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))""")
    assert result == [], (path, result)


def templates(published: Path) -> list[tuple[str, str, dict[str, list[str]]]]:
    """(name, path, {table: key column titles}) for one page of every template."""
    summary = pl.read_parquet(published / "kpi_service_summary.parquet").sort("service_id")
    service = summary.row(0, named=True)
    benefit = pl.read_parquet(published / "benefits_realisation.parquet")["benefit_id"].sort()[0]
    return [
        ("overview", "/", {"costliest": COST_AND_TAKE_UP,
                           "government": ["Month", "Figure", "Value", "Change on the month before"]}),
        ("services", "/services/", {"services": COST_AND_TAKE_UP,
                                    "take-up-ranking": ["Service", "Digital take-up", "Take-up change in 12 months"]}),
        ("service", f"/services/{service['service_id']}/", {}),
        ("agencies", "/agencies/", {"agencies": ["Agency", "Cost per transaction", "Digital take-up",
                                                 "Take-up change since baseline"]}),
        ("agency", f"/agencies/{service['agency_id']}/", {"services": COST_AND_TAKE_UP}),
        ("departments", "/departments/", {"departments": ["Department", "Cost per transaction", "Digital take-up",
                                                          "Take-up change since baseline"]}),
        ("department", f"/departments/{service['department']}/", {"services": COST_AND_TAKE_UP}),
        ("channel-shift", "/channel-shift/", {"agencies": ["Month", "Agency", "Digital take-up"],
                                              "savings": ["Service", "Theoretical saving", "Counterfactual saving"]}),
        ("benefits", "/benefits/", {"benefits": ["Benefit", "Title", "Planned", "Actual", "Status"]}),
        ("benefit", f"/benefits/{benefit}/", {"benefit": ["Month", "Planned", "Actual", "Actual - planned",
                                                          "Status"]}),
        ("data-quality", "/data-quality/", {}),
        ("about", "/about/", {}),
        ("open-data", "/open-data/", {}),
    ]


def source_query(name: str, published: Path) -> pl.DataFrame:
    """A dashboards source query run by DuckDB over `published`, as `npm run sources` runs it."""
    text = (DASHBOARDS / "sources" / "published" / f"{name}.sql").read_text(encoding="utf-8")
    return duckdb.sql(text.replace("${published_dir}", str(published))).pl()


def test_a_page_template_no_link_reaches_fails_the_build_unless_it_may_have_no_page():
    """SvelteKit 2.8 fails a build on a page template its crawl never reached and has no setting for it: the patch in
    patches/ backports 2.16's prerender.handleUnseenRoutes, and svelte.config.js lets only the benefit page go unseen
    (a deployment without a benefits register has no benefit); any other such template still fails the build."""
    script = """
        import { validate_config } from './node_modules/@sveltejs/kit/src/core/config/index.js';
        import config from './svelte.config.js';
        const outcome = (handler, routes) => {
            try { handler({ routes, message: `not crawled: ${routes}` }); return 'built'; }
            catch (error) { return error.message.split('\\n')[0]; }
        };
        const ours = validate_config(config).kit.prerender.handleUnseenRoutes;
        const plain = validate_config({}).kit.prerender.handleUnseenRoutes;
        console.log(JSON.stringify([outcome(ours, ['/benefits/[benefit_id]']),
            outcome(ours, ['/benefits/[benefit_id]', '/[groups]/[group]']),
            outcome(plain, ['/benefits/[benefit_id]'])]));
    """
    done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=DASHBOARDS, capture_output=True,
                          text=True, timeout=PROCESS_SECONDS)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [
        "built", "not crawled: /benefits/[benefit_id],/[groups]/[group]", "not crawled: /benefits/[benefit_id]"]


def test_without_an_online_channel_take_up_is_not_applicable_never_zero(built, tmp_path):
    """The small test data has no service without an online channel, so one is made: the same service, its
    catalogue row without "online" (the demo data has two such services; their pages show "not applicable"). A service
    whose channels the catalogue does not know (every UK explorer service) shows the take-up it has published."""
    store, _, _ = built
    catalogue = pl.read_parquet(store.published / "service_catalogue.parquet")
    offline, unknown = catalogue["service_id"].sort()[:2]
    catalogue.with_columns(pl.when(pl.col("service_id") == offline)
                           .then(pl.col("channels_offered").list.set_difference(["online"]))
                           .when(pl.col("service_id") == unknown).then(None)
                           .otherwise(pl.col("channels_offered")).alias("channels_offered")
                           ).write_parquet(tmp_path / "service_catalogue.parquet")
    shutil.copy(store.published / "kpi_service_summary.parquet", tmp_path)
    shown_rows = {r["service_id"]: r for r in source_query("kpi_service_summary", tmp_path).iter_rows(named=True)}
    assert {k: shown_rows[offline][k] for k in ("digital_channel_offered", "digital_take_up_rate",
                                               "digital_take_up_change_12m_pp", "take_up_fmt", "take_up_change_fmt")} \
        == {"digital_channel_offered": False, "digital_take_up_rate": None, "digital_take_up_change_12m_pp": None,
            "take_up_fmt": '"not applicable"', "take_up_change_fmt": '"not applicable"'}
    assert {k: shown_rows[unknown][k] for k in ("digital_channel_offered", "take_up_fmt", "take_up_change_fmt")} \
        == {"digital_channel_offered": None, "take_up_fmt": "#,##0.0%",
            "take_up_change_fmt": '+0.0" pp";-0.0" pp";0.0" pp"'}
    others = [r for k, r in shown_rows.items() if k != offline]
    assert all(r["take_up_fmt"] == "#,##0.0%" and r["digital_channel_offered"] is not False for r in others)
    published = {r["service_id"]: r for r in pl.read_parquet(tmp_path / "kpi_service_summary.parquet").iter_rows(
        named=True)}
    assert all(r["digital_take_up_rate"] == published[r["service_id"]]["digital_take_up_rate"] for r in others)
    assert all(r["suppression_note"] == (published[r["service_id"]]["suppression_note"] or "")
               and r["satisfaction_fmt"] == ('"fewer than 30 responses"'
                                             if published[r["service_id"]]["suppression_note"] else "#,##0.0%")
               for r in others)


def test_a_satisfaction_figure_from_few_responses_reads_fewer_than_30_responses_on_every_page(four_responses):
    store, _ = four_responses
    expected = '"fewer than 30 responses"'
    periods = source_query("kpi_rollups_by_period", store.published)  # the government, department and agency pages
    assert periods.select("level", "satisfaction_score", "satisfaction_fmt").sort("level").rows() == [
        ("agency", None, expected), ("department", None, expected), ("government", None, expected)]
    months = source_query("kpi_rollups", store.published).filter(pl.col("kpi") == "user_satisfaction")
    assert months.height == 9 and set(months["value"]) == {None} and set(months["value_fmt"]) == {expected}
    services = source_query("kpi_user_satisfaction", store.published)
    assert set(services["satisfaction_score"]) == {None} and set(services["satisfaction_fmt"]) == {expected}
    summary = source_query("kpi_service_summary", store.published)
    assert summary.select("satisfaction_score", "satisfaction_fmt").rows() == [(None, expected)]


@pytest.mark.site
def test_site_has_every_page_and_offers_every_table_for_download(site):
    build, published = site
    catalogue = pl.read_parquet(published / "service_catalogue.parquet")
    benefits = pl.read_parquet(published / "benefits_realisation.parquet")["benefit_id"].unique()
    # each service's, agency's, department's and benefit's address serves the one shell page: its figures are
    # rendered in the browser from the template (the browser tests below read them there), not prerendered page by page
    shell = (build / "shell.html").read_bytes()
    for folder, ids in {"services": catalogue["service_id"], "agencies": catalogue["agency_id"].unique(),
                        "departments": catalogue["department"].unique(), "benefits": benefits}.items():
        assert sorted(p.name for p in (build / folder).iterdir() if p.is_dir()) == sorted(ids), folder
        assert {(build / folder / i / "index.html").read_bytes() == shell for i in ids} == {True}, folder
    for page in ("index.html", "services/index.html", "agencies/index.html", "departments/index.html",
                 "channel-shift/index.html", "benefits/index.html", "data-quality/index.html", "about/index.html",
                 "open-data/index.html"):
        assert (build / page).stat().st_size > 5_000, page
    for table in [*published.glob("*.csv"), *published.glob("*.parquet"), *(published / "reports").glob("*.pdf")]:
        assert (build / "open-data" / table.relative_to(published)).read_bytes() == table.read_bytes()
    assert (build / "open-data" / "datapackage.json").read_bytes() == (published / "datapackage.json").read_bytes()


@pytest.mark.site
@pytest.mark.browser
def test_every_page_template_fits_1366_reads_cleanly_and_passes_axe(site, server, browser, shots):
    _, published = site
    for name, path, tables in templates(published):
        page = visit(browser, server, path, shots, name)
        assert_reads_cleanly(page, path)
        for table, titles in tables.items():
            assert_key_columns_in_view(page, table, titles)
        assert_accessible(page, path)
        page.close()
    assert {p.stem for p in shots.glob("*.png")} >= {name for name, _, _ in templates(published)}


@pytest.mark.site
@pytest.mark.browser
def test_services_tables_say_no_data_only_where_a_figure_is_absent(site, server, browser, shots):
    _, published = site
    catalogue = pl.read_parquet(published / "service_catalogue.parquet")
    online = {r["service_id"] for r in catalogue.iter_rows(named=True) if "online" in r["channels_offered"]}
    summary = {r["service_name"]: r for r in pl.read_parquet(published / "kpi_service_summary.parquet").iter_rows(
        named=True)}
    page = visit(browser, server, "/services/", shots, "services-checked")
    headers, rows = table_rows(page, "services")
    assert headers == COST_AND_TAKE_UP[:1] + ["Kind"] + COST_AND_TAKE_UP[1:]
    assert len(rows) == min(25, len(summary))
    costs = [summary[row[0]]["cost_per_transaction_gbp"] for row in rows]
    assert costs == sorted(costs, key=lambda c: (c is None, -(c or 0)))  # as the page says: highest first
    for service_name, kind, cost, cost_change, take_up, take_up_change in rows:
        published_row = summary[service_name]
        assert kind == published_row["category"]
        expected_cost = published_row["cost_per_transaction_gbp"]
        assert (cost == "no data") == (expected_cost is None), service_name
        if expected_cost is not None:
            assert number(cost) == pytest.approx(expected_cost, abs=0.005 + 1e-9)
        assert (cost_change == "no data") == (published_row["cost_per_transaction_change_12m_pct"] is None)
        if published_row["service_id"] not in online:
            assert (take_up, take_up_change) == ("not applicable", "not applicable"), service_name
        else:
            assert (take_up == "no data") == (published_row["digital_take_up_rate"] is None), service_name
            if published_row["digital_take_up_rate"] is not None:
                assert take_up == f"{published_row['digital_take_up_rate'] * 100:.1f}%".replace("-", "")
    headers, rows = table_rows(page, "services-more")
    assert headers == ["Service", "Agency", "High volume", "Completed transactions", "Completion rate",
                       "User satisfaction", "Responses"]
    for service_name, _, high_volume, _, _, satisfaction, responses in rows:
        published_row = summary[service_name]
        assert high_volume == ("Yes" if published_row["high_volume"] else "No")
        if published_row["suppression_note"]:
            assert satisfaction == "fewer than 30 responses", service_name
        else:
            assert (satisfaction == "no data") == (published_row["satisfaction_score"] is None), service_name
    assert "no data" not in " ".join(row[-1] for row in rows if summary[row[0]]["satisfaction_responses"])
    # services with no online channel are not in the take-up ranking
    _, ranking = table_rows(page, "take-up-ranking")
    ranked = {summary[row[0]]["service_id"] for row in ranking}
    assert ranked and ranked <= online
    page.close()


@pytest.mark.site
@pytest.mark.browser
def test_overview_shows_the_published_government_figures(site, server, browser, shots):
    _, published = site
    page = visit(browser, server, "/", shots, "overview-checked")
    tiles = marked(page.content(), "data-kpi")
    rollups = pl.read_parquet(published / "kpi_rollups.parquet").filter(pl.col("level") == "government")
    titles = {"cost_per_transaction": "Cost per transaction", "digital_take_up": "Digital take-up",
              "completion_rate": "Completion rate", "user_satisfaction": "User satisfaction"}
    for kpi, title in titles.items():
        row = latest(rollups, kpi=kpi)
        tile = tiles[kpi]
        if kpi == "cost_per_transaction":
            assert shown(tile, title).startswith("£")
            assert number(shown(tile, title)) == pytest.approx(row["value"], abs=0.005 + 1e-9)
            change = re.search(r"([+-]?\d+\.\d)% on the month before", tile)
        else:
            assert number(shown(tile, title)) == pytest.approx(row["value"] * 100, abs=0.05 + 1e-9)
            change = re.search(r"([+-]?\d+\.\d) pp on the month before", tile)
        assert change, tile
        assert float(change.group(1)) == pytest.approx(row["change_vs_previous_month"], abs=0.05 + 1e-9)
        coverage = re.search(r"Coverage (\d+)% \((\d+) of (\d+) services\)", tile)
        assert coverage, tile
        assert [int(g) for g in coverage.groups()] == [
            round(row["coverage"] * 100), row["services_reporting"], row["services_expected"]]
    # the month-by-month table: KPI names in words, each value formatted as its unit is
    headers, rows = table_rows(page, "government")
    assert headers[:4] == ["Month", "Figure", "Value", "Change on the month before"]
    newest = {row[1]: row for row in rows[:4]}
    cost, take_up = latest(rollups, kpi="cost_per_transaction"), latest(rollups, kpi="digital_take_up")
    assert newest["Cost per transaction"][2] == f"£{cost['value']:,.2f}"
    assert newest["Digital take-up"][2] == f"{take_up['value'] * 100:.1f}%"
    assert re.fullmatch(r"[+-]?\d+\.\d pp", newest["Digital take-up"][3])
    page.close()


@pytest.mark.site
@pytest.mark.browser
def test_service_pages_show_the_published_service_figures(site, server, browser, shots):
    _, published = site
    summary = pl.read_parquet(published / "kpi_service_summary.parquet").sort("service_id")
    complete = summary.drop_nulls(["cost_per_transaction_gbp", "digital_take_up_rate", "completion_rate",
                                   "satisfaction_score"]).row(0, named=True)
    service_id = complete["service_id"]
    page = visit(browser, server, f"/services/{service_id}/", shots, f"service-{service_id}")
    tiles = marked(page.content(), "data-kpi")
    assert page.inner_text("nav[aria-label='Breadcrumb']").split() == \
        ["Overview", "›", "Services", "›", *complete["service_name"].split()]
    page.close()

    def table(name):
        return pl.read_parquet(published / f"{name}.parquet").filter(pl.col("service_id") == service_id)

    cost = latest(table("kpi_cost_per_transaction"), channel="all")
    assert number(shown(tiles["cost_per_transaction"], "Cost per transaction")) == pytest.approx(
        cost["cost_per_transaction_gbp"], abs=0.005 + 1e-9)
    take_up = latest(table("kpi_digital_take_up"))
    assert number(shown(tiles["digital_take_up"], "Digital take-up")) == pytest.approx(
        take_up["digital_take_up_rate"] * 100, abs=0.05 + 1e-9)
    completion = latest(table("kpi_completion_rate"), channel="all")
    assert number(shown(tiles["completion_rate"], "Completion rate")) == pytest.approx(
        completion["completion_rate"] * 100, abs=0.05 + 1e-9)
    satisfaction = latest(table("kpi_user_satisfaction"), channel="all")
    tile = tiles["user_satisfaction"]
    assert number(shown(tile, "User satisfaction")) == pytest.approx(
        satisfaction["satisfaction_score"] * 100, abs=0.05 + 1e-9)
    interval = re.search(r"interval (\S+) to (\S+), from (\S+) responses", tile)
    assert interval, tile
    low, high, responses = interval.groups()
    assert number(low) == pytest.approx(satisfaction["satisfaction_score_ci_low"] * 100, abs=0.05 + 1e-9)
    assert number(high) == pytest.approx(satisfaction["satisfaction_score_ci_high"] * 100, abs=0.05 + 1e-9)
    assert int(number(responses)) == satisfaction["responses"]

    # a service whose latest satisfaction comes from too few responses: "fewer than 30 responses", never a figure
    few = summary.filter(pl.col("satisfaction_responses") < 30).row(0, named=True)
    page = visit(browser, server, f"/services/{few['service_id']}/", shots, "service-suppressed")
    tiles = marked(page.content(), "data-kpi")
    assert tiles["user_satisfaction"].startswith("User satisfaction fewer than 30 responses ")
    assert "suppressed: fewer than 30 responses" in tiles["user_satisfaction"]
    assert f"from {few['satisfaction_responses']} responses" in tiles["user_satisfaction"]
    page.close()



@pytest.mark.site
@pytest.mark.browser
def test_department_and_benefit_pages_name_themselves_in_words(site, server, browser, shots):
    _, published = site
    department = sorted(set(pl.read_parquet(published / "service_catalogue.parquet")["department"]))[-1]
    page = visit(browser, server, f"/departments/{department}/", shots, "department-checked")
    assert page.inner_text("nav[aria-label='Breadcrumb']").split() == ["Overview", "›", "Departments", "›",
                                                                       *department.split()]
    page.close()
    benefits = pl.read_parquet(published / "benefits_realisation.parquet")
    signed = benefits.filter(pl.col("variance").abs() < 0.001).sort("benefit_id")  # rounds to zero either side
    benefit = (signed if len(signed) else benefits).row(0, named=True)
    page = visit(browser, server, f"/benefits/{benefit['benefit_id']}/", shots, "benefit-checked")
    crumbs = page.inner_text("nav[aria-label='Breadcrumb']")
    assert crumbs.startswith("Overview") and f"{benefit['benefit_id']}: {benefit['title']}" in crumbs
    headers, rows = table_rows(page, "benefit")
    assert headers[:5] == ["Month", "Planned", "Actual", "Actual - planned", "Status"]
    for row in rows:
        assert MINUS_ZERO.findall(" ".join(row)) == [], row
        assert row[4] in ("Green", "Amber", "Red", "No data"), row
        if benefit["measure"] in ("digital_take_up_rate", "completion_rate", "satisfaction_score", "satisfied_share"):
            assert re.fullmatch(r"\d+\.\d%", row[1]), row
            assert row[3] == "no data" or re.fullmatch(r"[+-]?\d+\.\d pp", row[3]), row
    page.close()


@pytest.mark.site
@pytest.mark.browser
def test_about_page_puts_the_kpis_first_in_prose_and_quotes_each_definition(site, server, browser, shots):
    build, _ = site
    definitions = marked((build / "about" / "index.html").read_text(encoding="utf-8"), "data-definition")
    for table in ("kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction",
                  "kpi_rollups", "kpi_service_summary"):
        assert definitions[table] == " ".join(sql_definition(table).split())
        assert "DESIGN" not in definitions[table] and ".sql" not in definitions[table]
    page = visit(browser, server, "/about/", shots, "about-checked")
    headings = page.locator("article h2, article h3").all_inner_texts()
    assert headings[:5] == ["The four key figures", "Cost per transaction", "Digital take-up", "Completion rate",
                            "User satisfaction"]
    assert headings.index("Benefits") > headings.index("User satisfaction")
    visible = page.inner_text("article")
    for internal in ("DESIGN", ".sql", "transforms/", "kpi_", "_gbp"):
        assert internal not in visible, internal
    page.close()


@pytest.mark.site
@pytest.mark.browser
def test_index_pages_for_departments_and_open_data_link_every_item(site, server, browser, shots):
    _, published = site
    page = visit(browser, server, "/departments/", shots, "departments-checked")
    departments = sorted(set(pl.read_parquet(published / "service_catalogue.parquet")["department"]))
    assert sorted(page.locator("article ul a").all_inner_texts()) == departments
    page.close()
    page = visit(browser, server, "/open-data/", shots, "open-data-checked")
    links = page.locator("article ul a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    reports = published / "reports"
    assert sorted(links) == sorted([f"/open-data/{p.name}" for p in [*published.glob("*.csv"),
                                                                      *published.glob("*.parquet")]]
                                   + ["/open-data/datapackage.json"]
                                   + [f"/open-data/reports/{p.name}" for p in [*reports.glob("*.pdf"),
                                                                              *reports.glob("*.html")]])
    package = json.loads((published / "datapackage.json").read_text(encoding="utf-8"))
    sections = marked(page.content(), "data-open-data-table")
    for resource in package["resources"]:  # each table with its title and description from the data package
        text = sections[resource["name"]]
        assert text.startswith(f"{resource['title']} {' '.join(resource['description'].split())}"), text
        assert ("No rows in this edition" in text) == (pl.read_parquet(published / resource["parquet"]).height == 0)
    manifest = json.loads((reports / "manifest.json").read_text(encoding="utf-8"))["summaries"]
    listed = page.locator("[data-open-data='summaries'] li").all_inner_texts()
    newest = max(manifest.values(), key=lambda entry: (entry["period_start"], entry["kind"] == "quarter"))
    assert listed[0] == f"{newest['period_name']}: PDF, web page"
    assert len(listed) == len(manifest)
    page.close()


PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
# A word broken across lines inside a table cell: the runs of letters and digits whose text spans two lines (a line
# may break after a "/" or a "-", as between words, never inside a run of letters).
WORDS_BROKEN = """() => {
    const broken = [];
    for (const cell of document.querySelectorAll('th, td')) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                const rects = [...range.getClientRects()].filter((r) => r.width > 0);
                const lines = new Set(rects.map((r) => Math.round(r.top)));
                if (lines.size > 1) broken.push(word[0]);
            }
        }
    }
    return broken;
}"""


@pytest.mark.site
@pytest.mark.browser
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1366px"])
def test_every_page_template_fits_a_phone_and_a_laptop_without_sideways_scrolling(site, server, browser, shots,
                                                                                   viewport):
    """The page itself never scrolls sideways (a wide table scrolls in its own frame, a keyboard-reachable region
    whose first column stays in view, each named apart); no word in a table cell is broken across lines; axe finds
    nothing at this width either (the scrolling frames are regions only where they scroll)."""
    _, published = site
    for name, path, _ in templates(published):
        page = browser.new_page(viewport=viewport)
        page.set_default_timeout(PAGE_SECONDS * 1000)
        page.goto(f"{server}{path}", wait_until="networkidle")
        page.wait_for_function("!document.body.innerText.includes('Loading...')")
        page.wait_for_timeout(500)
        page.screenshot(path=shots / f"{name}-{viewport['width']}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") == viewport["width"], (name, viewport)
        assert page.evaluate(WORDS_BROKEN) == [], (name, viewport)
        frames = page.locator(".scrollbox.scrolls")
        for i in range(frames.count()):
            frame = frames.nth(i)
            assert (frame.get_attribute("tabindex"), frame.get_attribute("role")) == ("0", "region"), (name, i)
            first = frame.locator("tr > :first-child").first
            assert first.evaluate("(cell) => getComputedStyle(cell).position") == "sticky", (name, i)
        assert_accessible(page, f"{path} at {viewport['width']} px")
        page.close()


@pytest.mark.site
@pytest.mark.browser
def test_a_quarter_has_one_name_in_the_tables_a_page_and_both_summaries(site, server, browser, shots):
    _, published = site
    quarters = pl.read_parquet(published / "kpi_rollups_by_period.parquet").filter(
        (pl.col("level") == "government") & (pl.col("grain") == "quarter")).sort("period_start")
    manifest = json.loads((published / "reports" / "manifest.json").read_text(encoding="utf-8"))["summaries"]
    summarised = {entry["period_name"] for entry in manifest.values() if entry["kind"] == "quarter"}
    name = [q for q in quarters["period_name"].unique(maintain_order=True) if q in summarised][-1]
    assert re.fullmatch(r"Q[1-4] \d{4}-\d{2} \([A-Z][a-z]{2}-[A-Z][a-z]{2} \d{4}\)", name), name
    stem = next(stem for stem, entry in manifest.items() if entry["period_name"] == name)
    page = html.unescape((published / "reports" / f"{stem}.html").read_text(encoding="utf-8"))
    assert f"Benefits realisation summary: {name}" in page
    pdf = " ".join(" ".join(p.extract_text().split())
                   for p in pypdf.PdfReader(published / "reports" / f"{stem}.pdf").pages)
    assert f"Benefits realisation summary: {name}" in pdf
    page = visit(browser, server, "/", shots, "overview-periods")
    page.fill("[data-table='periods'] input:visible", name)
    page.wait_for_timeout(500)
    _, rows = table_rows(page, "periods")
    assert name in [row[0] for row in rows]
    page.close()


def test_a_tile_change_is_rounded_as_shown_so_zero_is_neutral():
    """A tile's colour (Evidence's Delta) follows the sign of the change it is given: the tile queries round it to the
    decimal shown, so a change shown as 0.0 is 0 (or -0.0, which is not below 0) and reads neutral, never a fall."""
    con = duckdb.connect()
    con.execute("CREATE TABLE rollup (kpi VARCHAR, month DATE, value DOUBLE, change_vs_previous_month DOUBLE)")
    con.execute("INSERT INTO rollup VALUES ('digital_take_up', '2025-12-01', 0.61, -0.04), "
                "('digital_take_up', '2025-11-01', 0.61, 0.06)")
    query = (DASHBOARDS / "queries" / "group" / "take_up.sql").read_text(encoding="utf-8")
    changes = con.execute(f"SELECT change_vs_previous_month FROM ({query.replace('${rollup}', 'rollup')})").fetchall()
    changes = [change for (change,) in changes]
    assert changes == [0.0, 0.1] and not changes[0] < 0
