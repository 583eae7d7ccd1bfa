"""The ministers' summary: one per month and quarter, at most 4 full A4 pages, every figure from a published table,
every savings figure saying what it covers, forecasts and statuses in words."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from pathlib import Path

import polars as pl
import pypdf
import pypdfium2
import pytest

from pipelines.defs.publishing import summary
from pipelines.defs.publishing.summary import build_summaries
from pipelines.defs.publishing.summary_render import chart_figures, read_inputs
from pipelines.defs.publishing.summary_content import (METHODS, attention, benefit_row, content, forecast_misses,
                                                      forecast_words,
                                                      headlines, narrative, status_note)
from pipelines.defs.publishing.summary_formats import (Period, count_change, gbp, gbp_millions, measure_value,
                                                      percent, points, table_value)
from transforms import sql

DECEMBER = Period("month", dt.date(2025, 12, 1), dt.date(2025, 12, 1))
NUMBER = re.compile(r"(?<![\w.\-])[+\u2212]?£?\d(?:[\d,]*\d)?(?:\.\d+)?(?:bn|m|%| pp)?")


def pdf_text(path) -> list[str]:
    """Each page's text, whitespace collapsed (a line break inside a sentence becomes a space)."""
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]


def figures(store, period: Period) -> dict[str, dict]:
    rows = pl.read_parquet(store.published / "benefits_summary_figures.parquet").filter(
        (pl.col("period_type") == period.kind) & (pl.col("period_start") == period.start)).to_dicts()
    return {r["figure"]: r for r in rows}


def benefits(store, period: Period) -> list[dict]:
    """The period's benefits as the summary reads them (with months_measured and previous_status)."""
    return read_inputs(store.published, period)["benefits"]


def test_formatting_of_money_shares_and_changes():
    assert [gbp(210_517_700.5), gbp(-5_447_599.0, sign=True), gbp(11_897_220.0, sign=True), gbp(1_374_856_000.0),
            gbp(380_484.2), gbp(37.8234, pence=True), gbp(None)] == [
        "£210.5m", "\u2212£5.4m", "+£11.9m", "£1.37bn", "£380,484", "£37.82", "no data"]
    assert [percent(0.617911), percent(None), points(0.004849), points(-0.0123)] == [
        "61.8%", "no data", "+0.5 pp", "\u22121.2 pp"]
    assert [measure_value("completion_rate", 0.8674), measure_value("cost_per_transaction_gbp", 8.675),
            measure_value("channel_shift_saving_gbp", 64_539_808.3)] == ["86.7%", "£8.68", "£64.5m"]


def test_halves_round_up_as_on_the_dashboards_and_nothing_reads_minus_zero():
    assert [percent(0.5825), percent(0.5824), gbp(10.125, pence=True)] == ["58.3%", "58.2%", "£10.13"]
    assert [percent(-0.0004), points(-0.0004), points(0.0), gbp(-0.004, pence=True, sign=True), gbp_millions(-400.0)] \
        == ["0.0%", "0.0 pp", "0.0 pp", "£0.00", "£0.00m"]


def test_a_change_without_an_earlier_figure_reads_no_comparison_and_zero_has_no_sign():
    take_up = {"value": 0.61, "change": None, "items_counted": 3, "items_in_scope": 3, "same_items_as_previous": None}
    tiles = headlines({"digital_take_up_rate": take_up}, DECEMBER)
    assert tiles[0]["change"] == "no comparison: no figure for November 2025"
    tiles = headlines({"digital_take_up_rate": {**take_up, "change": -0.0004}}, DECEMBER)
    assert tiles[0]["change"] == "0.0 pp on November 2025"


def test_money_to_date_has_one_scale_in_the_benefits_table():
    assert [table_value("channel_shift_saving_gbp", v) for v in (380_484.3, 7_800_000.0, 57_640_000.0)] == [
        "£0.38m", "£7.80m", "£57.64m"]
    assert table_value("cost_per_transaction_gbp", 10.298) == "£10.30"
    assert table_value("digital_take_up_rate", 0.5825) == "58.3%"


def benefit(**values) -> dict:
    return {"measure": "digital_take_up_rate", "category": "non-cashable", "rag_status": "green",
            "baseline_value": 0.40, "target_value": 0.90, "target_month": dt.date(2026, 3, 1), **values}


def test_forecasts_read_in_words_against_the_target():
    assert forecast_words(benefit(forecast_value=0.84, forecast_share_of_target=0.88)) == \
        "on course to reach 84.0% by March 2026, short of the 90.0% target"
    assert forecast_words(benefit(forecast_value=0.93, forecast_share_of_target=1.06)) == \
        "on course to reach the 90.0% target by March 2026 (trend: 93.0%)"
    assert forecast_words(benefit(forecast_value=0.35, forecast_share_of_target=-0.1)) == \
        "heading for 35.0% by March 2026: moving away from the 90.0% target (baseline 40.0%)"
    assert forecast_words(benefit(forecast_value=None, forecast_share_of_target=None)) == \
        "no forecast (too few recent months with figures); target 90.0% by March 2026"


def test_a_green_benefit_forecast_to_miss_is_flagged_beside_its_status_and_under_needs_attention():
    short = benefit(benefit_id="B1", title="Take-up", owner="Ops", forecast_value=0.84, forecast_share_of_target=0.88,
                    actual_value=0.6, planned_value=0.6, previous_status="amber")
    assert status_note(short) == "but forecast to miss"
    assert benefit_row(short, DECEMBER)["status_note"] == "but forecast to miss; was amber in November 2025"
    assert attention([short], DECEMBER) == [
        "Green but forecast to miss: B1 Take-up. On plan in December 2025, but on course to reach 84.0% by March "
        "2026, short of the 90.0% target; owner: Ops."]
    on_course = {**short, "forecast_share_of_target": 1.06, "previous_status": "green"}
    assert (status_note(on_course), attention([on_course], DECEMBER)) == ("", [])


def test_a_benefit_its_services_never_measure_is_named_as_unmeasurable_with_the_reason():
    never = benefit(benefit_id="B5", title="Fewer abandoned applications", owner="Ops", measure="completion_rate",
                    rag_status="no data", months_measured=0, services_in_group=1, baseline_month=dt.date(2023, 1, 1),
                    forecast_value=None, forecast_share_of_target=None)
    reason = ("cannot be measured as set up: its service has never reported transactions started, which the completion "
              "rate needs, in any month since the baseline (January 2023)")
    assert forecast_words(never) == f"no forecast: {reason}"
    assert attention([never], DECEMBER) == [f"No data: B5 Fewer abandoned applications {reason}; owner: Ops."]


def test_a_dis_benefit_that_did_not_happen_reads_as_good_news():
    dip = benefit(measure="satisfaction_score", category="dis-benefit", baseline_value=0.697, target_value=0.667)
    assert forecast_words({**dip, "forecast_value": 0.783, "forecast_share_of_target": -2.87}) == (
        "no fall expected: heading for 78.3% by March 2026, above the 69.7% baseline (a fall to 66.7% was allowed for)")
    assert forecast_words({**dip, "forecast_value": 0.68, "forecast_share_of_target": 0.57}) == \
        "heading for 68.0% by March 2026, within the fall to 66.7% allowed for"
    assert forecast_words({**dip, "forecast_value": 0.64, "forecast_share_of_target": 1.9}) == \
        "heading for 64.0% by March 2026, worse than the fall to 66.7% allowed for"
    assert [status_note({**dip, "rag_status": s}) for s in ("green", "red", "no data")] == [
        "harm no worse than allowed for", "harm worse than allowed for", ""]
    assert status_note(benefit()) == ""


def figure(value, change=None, counted=10, scope=10) -> dict:
    return {"value": value, "change": change, "items_counted": counted, "items_in_scope": scope,
            "same_items_as_previous": True}


def test_each_savings_headline_says_what_it_covers_and_how_the_two_differ():
    figures = {"cashable_realised_to_date_gbp": figure(210_517_700.0), "cashable_planned_to_date_gbp": figure(2.08e8),
               "channel_shift_counterfactual_saving_gbp": figure(96_160_964.6, counted=62, scope=62),
               "channel_shift_theoretical_saving_gbp": figure(66_396_000.0, counted=62, scope=62)}
    totals = {"saving_gbp": 96_160_964.6, "cost_gbp": 163_479_029.3}
    tiles = {t["label"]: t for t in headlines(figures, DECEMBER, totals)}
    assert tiles["Cashable savings realised to date"]["covers"] == (
        "Covers: the register's 10 cashable benefits measured in money, each added up since its baseline month.")
    assert tiles["Saved by channel shift this month"]["covers"] == (
        "Covers: 62 services with an online channel, this month only; not a register benefit and not to be added to "
        "the figure beside it. It equals 58.8% of what those services cost this month (£163.5m).")
    assert ("The two savings headlines measure different things: £210.5m is the register's cashable benefits since "
            "their baselines; £96.2m is one month of channel shift across 62 services, which overlaps with the "
            "register's own channel-shift benefits.") in narrative(figures, DECEMBER)


def test_financial_quarters_run_april_to_march():
    quarter = [Period("quarter", dt.date(y, m, 1), dt.date(y, m + 2, 1)) for y, m in ((2025, 4), (2025, 10), (2026, 1))]
    assert [q.name for q in quarter] == ["Q1 2025-26 (Apr-Jun 2025)", "Q3 2025-26 (Oct-Dec 2025)",
                                         "Q4 2025-26 (Jan-Mar 2026)"]
    assert [q.stem for q in quarter] == ["benefits-summary-2025-26-Q1", "benefits-summary-2025-26-Q3",
                                         "benefits-summary-2025-26-Q4"]
    assert quarter[1].previous_name == "Q2 2025-26 (Jul-Sep 2025)"
    assert DECEMBER.stem == "benefits-summary-2025-12"


def test_a_summary_for_every_month_and_every_quarter_it_ends(built):
    store, _, result = built
    assert result.success
    expected = {f"benefits-summary-2025-{m:02d}" for m in range(7, 13)} | {"benefits-summary-2025-26-Q2",
                                                                          "benefits-summary-2025-26-Q3"}
    assert {p.name for p in (store.published / "reports").iterdir()} == {"manifest.json"} | {
        f"{stem}.{extension}" for stem in expected for extension in ("pdf", "html")}
    manifest = json.loads((store.published / "reports" / "manifest.json").read_text())["summaries"]
    assert set(manifest) == expected
    for stem, entry in manifest.items():  # the manifest's checksums are those of the files beside it
        for kind in ("pdf", "html"):
            path = store.published / "reports" / f"{stem}.{kind}"
            assert entry[f"{kind}_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_pdf_is_at_most_four_a4_pages_of_real_text(built):
    store, _, _ = built
    for path in sorted((store.published / "reports").glob("*.pdf")):
        reader = pypdf.PdfReader(path)
        assert 1 <= len(reader.pages) <= 4, path.name
        assert [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages] == [
            (595, 842)] * len(reader.pages)
        assert "Benefits realisation summary" in reader.pages[0].extract_text()
        assert reader.metadata.title.startswith("Benefits realisation summary: ")
        assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged: headings and reading order for screen readers


def savings_and_cost(store, period: Period) -> tuple[float, float]:
    """The counterfactual saving and the cost of the services with both savings measures, from the published rows."""
    rows = pl.read_parquet(store.published / "channel_shift_savings.parquet").filter(
        pl.col("month").is_between(period.start, period.end) & pl.col("counterfactual_saving_gbp").is_not_null()
        & pl.col("theoretical_saving_gbp").is_not_null())
    return rows["counterfactual_saving_gbp"].sum(), rows["cost_gbp"].sum()


def expected_page_one(store, period: Period) -> list[str]:
    """Every figure page 1 must show, formatted from the published tables' values."""
    f = figures(store, period)
    saving, cost = savings_and_cost(store, period)
    assert saving == pytest.approx(f["channel_shift_counterfactual_saving_gbp"]["value"])
    wanted = [percent(saving / cost), gbp(cost),
        gbp(f["cashable_realised_to_date_gbp"]["value"]), gbp(f["cashable_realised_to_date_gbp"]["change"], sign=True),
        gbp(f["cashable_planned_to_date_gbp"]["value"]),
        gbp(f["channel_shift_counterfactual_saving_gbp"]["value"]),
        gbp(f["channel_shift_counterfactual_saving_gbp"]["change"], sign=True),
        gbp(f["channel_shift_theoretical_saving_gbp"]["value"]),
        percent(f["digital_take_up_rate"]["value"]), points(f["digital_take_up_rate"]["change"]),
        gbp(f["cost_per_transaction_gbp"]["value"], pence=True),
        gbp(f["cost_per_transaction_gbp"]["change"], pence=True, sign=True),
        count_change(f["benefits_red"]["change"]),
        *(f"{f[name]['value']:.0f}" for name in ("benefits_green", "benefits_amber", "benefits_red",
                                                 "benefits_no_data")),
        *(str(f[name][column]) for name in f for column in ("items_counted", "items_in_scope")),
    ]
    for b in benefits(store, period):
        if b["rag_status"] == "red":
            wanted += [measure_value(b["measure"], b["actual_value"]), measure_value(b["measure"], b["planned_value"])]
    return wanted


def test_page_one_holds_exactly_the_figures_of_the_published_tables(built):
    store, _, _ = built
    page = pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf")[0]
    wanted = expected_page_one(store, DECEMBER)
    for wanted_figure in wanted:
        assert wanted_figure in page, wanted_figure
    # and nothing else: every number on the page is one of those (dates, page numbers and the version apart)
    page = re.sub(r"Data as of: .*? Content checksum [0-9a-f]{12}\.", "", page)
    page = re.sub(r"Page \d of \d", "", page)
    # a green benefit forecast to miss is called out with its forecast in words (which may run onto page 2)
    flagged = [forecast_words(b) for b in benefits(store, DECEMBER)
               if b["rag_status"] == "green" and forecast_misses(b)]
    allowed = {token for text in [*wanted, *flagged] for token in NUMBER.findall(text)} | {"2025", "2026"}
    assert [token for token in NUMBER.findall(page) if token not in allowed] == []


def test_benefits_table_shows_each_benefit_from_the_published_table(built):
    store, _, _ = built
    text = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf"))
    for b in benefits(store, DECEMBER):
        row = text[text.rindex(f"{b['benefit_id']} {b['title'][:20]}"):]  # the table comes after the call-outs
        cells = [b["owner"], table_value(b["measure"], b["planned_value"]),
                 table_value(b["measure"], b["actual_value"]),
                 {"no data": "No data"}.get(b["rag_status"], b["rag_status"].capitalize()),
                 benefit_row(b, DECEMBER)["status_note"],
                 forecast_words(b, table_value)]
        for cell in cells:
            assert cell in row[:500], (b["benefit_id"], cell)
    assert "of the promised change" not in text  # forecasts are words, never "(-151% of the promised change)"


def test_page_one_says_what_each_savings_figure_covers(built):
    store, _, _ = built
    page = pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf")[0]
    f = figures(store, DECEMBER)
    saving, cost = savings_and_cost(store, DECEMBER)
    cashable, shift = f["cashable_realised_to_date_gbp"], f["channel_shift_counterfactual_saving_gbp"]
    assert (f"Covers: the register's {cashable['items_in_scope']} cashable benefits measured in money, each added up "
            f"since its baseline month.") in page
    assert (f"Covers: {shift['items_counted']} services with an online channel, this month only; not a register "
            f"benefit and not to be added to the figure beside it. It equals {percent(saving / cost)} of what those "
            f"services cost this month ({gbp(cost)}).") in page
    assert (f"The two savings headlines measure different things: {gbp(cashable['value'])} is the register's cashable "
            f"benefits since their baselines; {gbp(shift['value'])} is one month of channel shift") in page


def test_charts_name_months_and_start_rates_at_zero(built):
    store, _, _ = built
    july = Period("month", dt.date(2025, 7, 1), dt.date(2025, 7, 1))  # one month of history: one tick
    for period, ticks in ((july, ["Jul 2025"]), (DECEMBER, ["Jul 2025", "Aug 2025", "Sep 2025", "Oct 2025",
                                                            "Nov 2025", "Dec 2025"])):
        drawn = chart_figures(read_inputs(store.published, period)["history"])
        for name, chart in drawn.items():
            chart.canvas.draw()
            axes = chart.axes[0]
            assert axes.get_ylim()[0] == 0, name
            assert [t.get_text() for t in axes.get_xticklabels()] == ticks, name
        assert [t.get_text() for t in drawn["take_up"].axes[0].get_yticklabels()][-1] == "100%"
        money = [t.get_text() for t in drawn["savings"].axes[0].get_yticklabels()]
        assert all(m.startswith("£") and m[-1] in "mk" for m in money) and len(set(money)) == len(money), money


def test_a_month_without_data_shows_no_data_never_zero(built):
    store, _, _ = built
    october = Period("month", dt.date(2025, 10, 1), dt.date(2025, 10, 1))
    missing = [b for b in benefits(store, october) if b["rag_status"] == "no data"]
    environment = next(b for b in missing if b["service_id"] == "ENV-001")
    text = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-10.pdf"))
    assert f"No data: {environment['benefit_id']} {environment['title']}" in text
    page = html.unescape((store.published / "reports" / "benefits-summary-2025-10.html").read_text(encoding="utf-8"))
    row = page[page.index(f'<th scope="row">{environment["benefit_id"]}</th>'):].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", row)[2:3] == ["no data"]  # the actual value cell
    assert 'class="status status-no-data">No data<' in row
    assert "£0" not in row


def test_late_and_missing_returns_are_named(built):
    store, _, _ = built
    status = pl.read_parquet(store.published / "submission_status.parquet")
    late = status.filter(pl.col("status") == "late").row(0, named=True)
    missing = status.filter(pl.col("status") == "missing").row(0, named=True)
    month_text = " ".join(pdf_text(store.published / "reports" / f"benefits-summary-{late['month']:%Y-%m}.pdf"))
    assert (f"{late['agency_name']}: the return for {late['month']:%B %Y} arrived late, on "
            f"{late['first_received_at']:%d %B %Y} (due {late['due_date']:%d %B %Y})") in month_text
    quarter = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-26-Q3.pdf"))
    assert f"{missing['agency_name']}: the return for {missing['month']:%B %Y} is missing" in quarter


def test_without_return_status_the_summary_says_so(copied):
    store, _ = copied
    (store.published / "submission_status.parquet").unlink()
    build_summaries(store, [DECEMBER.start])
    text = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf"))
    assert "(no return-status data)" in text
    assert "No return-status data: whether agencies' returns arrived on time is not known." in text


def test_same_inputs_give_the_same_bytes_and_only_changed_summaries_are_rendered(copied):
    store, _ = copied
    folder = store.published / "reports"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    months = [dt.date(2025, m, 1) for m in range(7, 13)]
    results = build_summaries(store, months)
    assert {stem: entry["status"] for stem, entry in results.items()} == {
        p.name.removesuffix(".pdf"): "unchanged" for p in folder.glob("*.pdf")}
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == before
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("benefits-summary-*")} == {
        name: stamp for name, stamp in stamps.items() if name.startswith("benefits-summary-")}

    # A file edited or removed by hand is rendered again, and so is a period whose figures changed; no other.
    (folder / "benefits-summary-2025-08.pdf").write_bytes(b"not the summary")
    (folder / "benefits-summary-2025-09.html").unlink()
    figures_file = store.published / "benefits_summary_figures.parquet"
    table = pl.read_parquet(figures_file)
    table.with_columns(pl.when((pl.col("period_start") == dt.date(2025, 12, 1)) & (pl.col("period_type") == "month")
                               & pl.col("value").is_not_null()).then(pl.col("value") + 1).otherwise(pl.col("value"))
                       .alias("value")).write_parquet(figures_file)
    results = build_summaries(store, months)
    rendered = {stem for stem, entry in results.items() if entry["status"] == "written"}
    # December's figures changed: its summary and the quarter it ends (whose charts run to December)
    assert rendered == {"benefits-summary-2025-08", "benefits-summary-2025-09", "benefits-summary-2025-12",
                        "benefits-summary-2025-26-Q3"}
    assert hashlib.sha256((folder / "benefits-summary-2025-08.pdf").read_bytes()).hexdigest() == before[
        "benefits-summary-2025-08.pdf"]


def test_summaries_rendered_in_worker_processes_are_the_same_bytes(copied, monkeypatch):
    """The built run's six months render in its own process (fewer than PARALLEL_FROM); a backfill's render in
    worker processes, and give the same files."""
    store, _ = copied
    folder = store.published / "reports"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    for path in folder.iterdir():
        path.unlink()
    monkeypatch.setattr(summary, "PARALLEL_FROM", 2)
    results = build_summaries(store, [dt.date(2025, m, 1) for m in range(7, 13)])
    assert len(results) == 8 and {entry["status"] for entry in results.values()} == {"written"}
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == before


def test_html_says_what_the_pdf_says_with_accessible_structure(built):
    store, _, _ = built
    body = content(read_inputs(store.published, DECEMBER), DECEMBER, "0.1.0")
    page = (store.published / "reports" / "benefits-summary-2025-12.html").read_text(encoding="utf-8")
    pdf = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf"))
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    for sentence in [*body["narrative"], *body["attention"], *(t[key] for t in body["headlines"]
                                                               for key in ("value", "covers"))]:
        assert sentence in plain and sentence in pdf, sentence
    assert '<html lang="en-GB">' in page and page.count("<h1>") == 1
    assert re.findall(r"<h2 id=\"[\w-]+\">([^<]+)</h2>", page) == [
        "Headline figures", "What the figures say",
        "Needs attention: red, no-data and green-but-forecast-to-miss benefits",
        "Savings realised against plan", "Digital take-up", "Benefits: status, owner and forecast",
        "Late and missing agency returns", "Methods and caveats"]
    assert page.count('<svg role="img" aria-label="Line chart of') == 2
    assert 'font-family: "DejaVu Sans"' in page  # the stylesheet is not escaped
    assert page.count("<svg") == 2 and "<script" not in page


@pytest.mark.browser
def test_html_passes_axe_core_in_a_real_browser(built):
    """axe-core (WCAG 2.0-2.2 A and AA rules) on the HTML summary in Debian's chromium: no serious or critical
    violation (white on the amber grey once failed contrast)."""
    from playwright.sync_api import sync_playwright

    store, _, _ = built
    axe = Path(__file__).resolve().parent.parent / "dashboards" / "node_modules" / "axe-core" / "axe.min.js"
    assert axe.exists(), "run `make dashboards-install` first (axe-core comes from npm)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto((store.published / "reports" / "benefits-summary-2025-12.html").as_uri())
        page.add_script_tag(path=str(axe))
        found = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})).violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)""")
        browser.close()
    assert found == []


def ink_depth(image) -> float:
    """How far down the page, as a share of the space above the footer, the last printed line is."""
    body = image.height - 60  # the footer's band (page number, title) at 72 dpi
    rows = [y for y in range(body) if any(image.getpixel((x, y)) < 128 for x in range(0, image.width, 2))]
    return rows[-1] / body


def test_pdf_pages_render_and_none_is_half_empty(built, tmp_path):
    store, _, _ = built
    for path in sorted((store.published / "reports").glob("*.pdf")):
        document = pypdfium2.PdfDocument(path)
        depths = []
        for number in range(len(document)):
            image = document[number].render(scale=1).to_pil().convert("L")
            image.save(tmp_path / f"{path.stem}-page-{number + 1}.png")
            assert image.size == (596, 842)  # A4 at 72 dpi, rounded up
            dark = sum(1 for value in image.getdata() if value < 128) / (595 * 842)
            assert 0.005 < dark < 0.5, (path.name, number, dark)  # ink on every page, and not a black page
            depths.append(ink_depth(image))
        assert len(document) <= 4
        assert all(depth > 0.7 for depth in depths[:-1]), (path.name, depths)  # a page breaks only when full
        assert depths[-1] > 0.3, (path.name, depths)  # and no short tail on a page of its own
    print(f"summary pages as PNG: {tmp_path}")


def test_methods_state_the_rag_thresholds_the_sql_applies():
    rules = sql("benefits_realisation")
    assert "WHEN shortfall_share <= 0.05 THEN 'green'" in rules and "WHEN shortfall_share <= 0.20 THEN 'amber'" in rules
    status = dict(METHODS)["Status (RAG)"]
    assert "Green: a shortfall of at most 5%; amber: more than 5% and at most 20%; red: more than 20%." in status
