"""The ministers' summary: one per month and quarter, at most 4 A4 pages, every figure from a published table."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re

import polars as pl
import pypdf
import pypdfium2
import pytest

from pipelines.defs.publishing.summary import (METHODS, Period, build_summaries, content, gbp, measure_value, percent, points,
                               read_inputs)
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
    return pl.read_parquet(store.published / "benefits_realisation.parquet").filter(
        pl.col("month") == period.end).sort("benefit_id").to_dicts()


def test_formatting_of_money_shares_and_changes():
    assert [gbp(210_517_700.5), gbp(-5_447_599.0, sign=True), gbp(11_897_220.0, sign=True), gbp(1_374_856_000.0),
            gbp(380_484.2), gbp(37.8234, pence=True), gbp(None)] == [
        "£210.5m", "\u2212£5.4m", "+£11.9m", "£1.37bn", "£380,484", "£37.82", "no data"]
    assert [percent(0.617911), percent(None), points(0.004849), points(-0.0123)] == [
        "61.8%", "no data", "+0.5 pp", "\u22121.2 pp"]
    assert [measure_value("completion_rate", 0.8674), measure_value("cost_per_transaction_gbp", 8.675),
            measure_value("channel_shift_saving_gbp", 64_539_808.3)] == ["86.7%", "£8.68", "£64.5m"]


def test_financial_quarters_run_april_to_march():
    quarter = [Period("quarter", dt.date(y, m, 1), dt.date(y, m + 2, 1)) for y, m in ((2025, 4), (2025, 10), (2026, 1))]
    assert [q.label for q in quarter] == ["2025-26 Q1", "2025-26 Q3", "2025-26 Q4"]
    assert [q.stem for q in quarter] == ["benefits-summary-2025-26-Q1", "benefits-summary-2025-26-Q3",
                                         "benefits-summary-2025-26-Q4"]
    assert quarter[1].name == "2025-26 Q3 (October to December 2025)"
    assert quarter[1].previous_name == "2025-26 Q2 (July to September 2025)"
    assert DECEMBER.stem == "benefits-summary-2025-12"


def test_a_summary_for_every_month_and_every_quarter_it_ends(built):
    store, _, result = built
    assert result.success
    expected = {f"benefits-summary-2025-{m:02d}" for m in range(7, 13)} | {"benefits-summary-2025-26-Q2",
                                                                          "benefits-summary-2025-26-Q3"}
    assert {p.name for p in (store.published / "reports").iterdir()} == {
        f"{stem}.{extension}" for stem in expected for extension in ("pdf", "html")}


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


def expected_page_one(store, period: Period) -> list[str]:
    """Every figure page 1 must show, formatted from the published tables' values."""
    f = figures(store, period)
    wanted = [
        gbp(f["cashable_realised_to_date_gbp"]["value"]), gbp(f["cashable_realised_to_date_gbp"]["change"], sign=True),
        gbp(f["cashable_planned_to_date_gbp"]["value"]),
        gbp(f["channel_shift_counterfactual_saving_gbp"]["value"]),
        gbp(f["channel_shift_counterfactual_saving_gbp"]["change"], sign=True),
        gbp(f["channel_shift_theoretical_saving_gbp"]["value"]),
        percent(f["digital_take_up_rate"]["value"]), points(f["digital_take_up_rate"]["change"]),
        gbp(f["cost_per_transaction_gbp"]["value"], pence=True),
        gbp(f["cost_per_transaction_gbp"]["change"], pence=True, sign=True),
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
    for figure in wanted:
        assert figure in page, figure
    # and nothing else: every number on the page is one of those (dates, page numbers and the version apart)
    page = re.sub(r"Data as of: .*? Content checksum [0-9a-f]{12}\.", "", page)
    page = re.sub(r"Page \d of \d", "", page)
    allowed = {token for figure in wanted for token in NUMBER.findall(figure)} | {"2025"}
    assert [token for token in NUMBER.findall(page) if token not in allowed] == []


def test_benefits_table_shows_each_benefit_from_the_published_table(built):
    store, _, _ = built
    text = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf"))
    for b in benefits(store, DECEMBER):
        row = text[text.rindex(f"{b['benefit_id']} {b['title'][:20]}"):]  # the table comes after the call-outs
        cells = [measure_value(b["measure"], b["planned_value"]), measure_value(b["measure"], b["actual_value"]),
                 {"no data": "No data"}.get(b["rag_status"], b["rag_status"].capitalize()),
                 f"target {measure_value(b['measure'], b['target_value'])}"]
        if b["forecast_value"] is not None:
            cells.append(f"forecast {measure_value(b['measure'], b['forecast_value'])}")
        for cell in cells:
            assert cell in row[:400], (b["benefit_id"], cell)


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


def test_same_inputs_give_the_same_bytes(copied):
    store, _ = copied
    folder = store.published / "reports"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    written = build_summaries(store, [dt.date(2025, m, 1) for m in range(7, 13)])
    assert sorted(written) == sorted(before)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == before


def test_html_says_what_the_pdf_says_with_accessible_structure(built):
    store, _, _ = built
    body = content(read_inputs(store.published, DECEMBER), DECEMBER)
    page = (store.published / "reports" / "benefits-summary-2025-12.html").read_text(encoding="utf-8")
    pdf = " ".join(pdf_text(store.published / "reports" / "benefits-summary-2025-12.pdf"))
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    for sentence in [*body["narrative"], *body["attention"], *(t["value"] for t in body["headlines"])]:
        assert sentence in plain and sentence in pdf, sentence
    assert '<html lang="en-GB">' in page and page.count("<h1>") == 1
    assert re.findall(r"<h2 id=\"[\w-]+\">([^<]+)</h2>", page) == [
        "Headline figures", "What the figures say", "Needs attention: red and no-data benefits",
        "Savings realised against plan", "Digital take-up", "Benefits: status, owner and forecast",
        "Late and missing agency returns", "Methods and caveats"]
    assert page.count('<svg role="img" aria-label="Line chart of') == 2
    assert 'font-family: "DejaVu Sans"' in page  # the stylesheet is not escaped
    assert page.count("<svg") == 2 and "<script" not in page


def test_pdf_renders_to_png_pages(built, tmp_path):
    store, _, _ = built
    document = pypdfium2.PdfDocument(store.published / "reports" / "benefits-summary-2025-26-Q3.pdf")
    for number in range(len(document)):
        image = document[number].render(scale=1).to_pil().convert("L")
        image.save(tmp_path / f"page-{number + 1}.png")
        assert image.size == (596, 842)  # A4 at 72 dpi, rounded up
        dark = sum(1 for value in image.getdata() if value < 128) / (595 * 842)
        assert 0.005 < dark < 0.5, (number, dark)  # ink on every page, and not a black page
    assert len(list(tmp_path.glob("page-*.png"))) == len(document) <= 4


def test_methods_state_the_rag_thresholds_the_sql_applies():
    rules = sql("benefits_realisation")
    assert "WHEN shortfall_share <= 0.05 THEN 'green'" in rules and "WHEN shortfall_share <= 0.20 THEN 'amber'" in rules
    status = dict(METHODS)["Status (RAG)"]
    assert "Green: a shortfall of at most 5%; amber: more than 5% and at most 20%; red: more than 20%." in status
