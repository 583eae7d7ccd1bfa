"""The Evidence dashboards build offline from the published files alone, and a real browser shows on them the same
numbers as the published KPI tables."""

import functools
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from pipelines.defs.publishing.open_data import sql_definition
from transforms.domain import SATISFACTION_MIN_RESPONSES

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,2400",
                  "--virtual-time-budget=20000"]


def npm(project: Path, script: str, published: Path, timeout: int) -> None:
    env = {**os.environ, "EVIDENCE_VAR__published_dir": str(published)}
    done = subprocess.run(["npm", "run", script], cwd=project, env=env, timeout=timeout, capture_output=True, text=True)
    assert done.returncode == 0, f"npm run {script} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    """(build folder, published folder): the dashboards built with build:strict from the `built` published files,
    in a copy of the project (node_modules linked from dashboards/, installed by `make dashboards-install`)."""
    store, _, _ = built
    assert (DASHBOARDS / "node_modules" / ".bin" / "evidence").exists(), "run `make dashboards-install` first"
    project = tmp_path_factory.mktemp("site") / "dashboards"
    shutil.copytree(DASHBOARDS, project, ignore=shutil.ignore_patterns("node_modules", "build", ".evidence",
                                                                       "open-data"))
    (project / "node_modules").symlink_to(DASHBOARDS / "node_modules")
    npm(project, "sources", store.published, timeout=300)
    npm(project, "build:strict", store.published, timeout=1500)
    return project / "build", store.published


@pytest.fixture(scope="module")
def server(site):
    """The built site served on 127.0.0.1 by this test."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site[0])))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def chromium(url: str, folder: Path, screenshot: str) -> str:
    """The page's DOM after its scripts ran (headless Debian chromium, fresh profile); a screenshot beside it."""
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is not installed (`make test` installs it)"
    for mode in ([f"--screenshot={folder / screenshot}"], ["--dump-dom"]):
        profile = folder / f"profile-{screenshot}-{len(mode[0])}"
        done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *mode, url],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (folder / screenshot).stat().st_size > 10_000
    return done.stdout


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
    return {key: normalised(text) for key, text in parser.text.items()}


def normalised(text: str) -> str:
    """Whitespace collapsed; values render with a trailing space, so "63.6% , from" reads "63.6%, from"."""
    return re.sub(r" ([,.;:)])", r"\1", " ".join(text.split()))


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


def test_site_has_every_page_and_offers_every_table_for_download(site):
    build, published = site
    catalogue = pl.read_parquet(published / "service_catalogue.parquet")
    assert sorted(p.name for p in (build / "services").iterdir() if p.is_dir()) == sorted(catalogue["service_id"])
    assert sorted(p.name for p in (build / "agencies").iterdir() if p.is_dir()) == sorted(set(catalogue["agency_id"]))
    assert sorted(p.name for p in (build / "departments").iterdir() if p.is_dir()) == \
        sorted(set(catalogue["department"]))
    for page in ("index.html", "services/index.html", "agencies/index.html", "channel-shift/index.html",
                 "benefits/index.html", "data-quality/index.html", "about/index.html"):
        assert (build / page).stat().st_size > 5_000, page
    if (published / "benefits_realisation.parquet").exists():  # the benefits pages fill in once it is published
        benefits = pl.read_parquet(published / "benefits_realisation.parquet")["benefit_id"].unique()
        assert sorted(p.name for p in (build / "benefits").iterdir() if p.is_dir()) == sorted(benefits)
    for csv in published.glob("*.csv"):
        assert (build / "open-data" / csv.name).read_bytes() == csv.read_bytes()
    assert (build / "open-data" / "datapackage.json").read_bytes() == (published / "datapackage.json").read_bytes()


def test_about_page_quotes_each_kpi_definition_as_worded_in_its_sql(site):
    build, _ = site
    definitions = marked((build / "about" / "index.html").read_text(encoding="utf-8"), "data-definition")
    for table in ("kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction",
                  "kpi_rollups", "kpi_service_summary"):
        assert definitions[table] == normalised(sql_definition(table))


def test_overview_shows_the_published_government_figures(site, server, tmp_path_factory):
    _, published = site
    shots = tmp_path_factory.mktemp("screenshots")
    tiles = marked(chromium(f"{server}/", shots, "overview.png"), "data-kpi")
    rollups = pl.read_parquet(published / "kpi_rollups.parquet").filter(pl.col("level") == "government")
    titles = {"cost_per_transaction": "Cost per transaction", "digital_take_up": "Digital take-up",
              "completion_rate": "Completion rate", "user_satisfaction": "User satisfaction"}
    for kpi, title in titles.items():
        row = latest(rollups, kpi=kpi)
        tile = tiles[kpi]
        if kpi == "cost_per_transaction":
            assert shown(tile, title).startswith("£")
            assert number(shown(tile, title)) == pytest.approx(row["value"], abs=0.005 + 1e-9)
            change = re.search(r"([+-]\d+\.\d)% on the month before", tile)
        else:
            assert number(shown(tile, title)) == pytest.approx(row["value"] * 100, abs=0.05 + 1e-9)
            change = re.search(r"([+-]\d+\.\d) pp on the month before", tile)
        assert change, tile
        assert float(change.group(1)) == pytest.approx(row["change_vs_previous_month"], abs=0.05 + 1e-9)
        coverage = re.search(r"Coverage (\d+)% \((\d+) of (\d+) services\)", tile)
        assert coverage, tile
        assert [int(g) for g in coverage.groups()] == [
            round(row["coverage"] * 100), row["services_reporting"], row["services_expected"]]
    print(f"screenshots: {shots}")


def test_service_pages_show_the_published_service_figures(site, server, tmp_path_factory):
    _, published = site
    shots = tmp_path_factory.mktemp("screenshots")
    summary = pl.read_parquet(published / "kpi_service_summary.parquet").sort("service_id")
    complete = summary.drop_nulls(["cost_per_transaction_gbp", "digital_take_up_rate", "completion_rate",
                                   "satisfaction_score"]).row(0, named=True)
    service_id = complete["service_id"]
    tiles = marked(chromium(f"{server}/services/{service_id}/", shots, f"service-{service_id}.png"), "data-kpi")

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

    # a service whose latest satisfaction comes from too few responses: "no data" and the reason, never a figure
    few = summary.filter(pl.col("satisfaction_responses") < SATISFACTION_MIN_RESPONSES).row(0, named=True)
    tiles = marked(chromium(f"{server}/services/{few['service_id']}/", shots, "service-suppressed.png"), "data-kpi")
    assert tiles["user_satisfaction"].startswith("User satisfaction no data ")
    assert "suppressed: fewer than 30 responses" in tiles["user_satisfaction"]
    assert f"from {few['satisfaction_responses']} responses" in tiles["user_satisfaction"]
    print(f"screenshots: {shots}")
