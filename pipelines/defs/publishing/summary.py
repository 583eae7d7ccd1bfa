"""The ministers' benefits summary on paper and screen: reads the summary tables, draws the charts and lays out a PDF
and an HTML page for each month and each financial quarter (April-March year), under data/published/reports/
(benefits-summary-2025-12.pdf, benefits-summary-2025-26-Q3.html, ...).

What the summary says is summary_content.py's, beside this file: this module only reads its rows and renders its
words. Nothing depends on the clock: "data as of" comes from the data, the version from the package, fonts are bundled
(matplotlib's DejaVu Sans) and chart files carry no dates, so the same inputs give the same text and the same bytes.
"""

import datetime as dt
import html
import io
import json
import os
from functools import cache
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import duckdb
import jinja2

from pipelines.defs.publishing.summary_content import content, series
from pipelines.defs.publishing.summary_formats import Period, periods_ending_in
from pipelines.lib.partitions import monthly, months_in
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore
from transforms.domain import add_months

TEMPLATES = Path(__file__).parent / "templates"
CHART_STYLE = {"svg.hashsalt": "benefits-summary", "svg.fonttype": "path", "font.family": "DejaVu Sans",
               "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


# --- reading the published tables --------------------------------------------------------------------------------

def _rows(con, query: str, params: list) -> list[dict]:
    cursor = con.execute(query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def read_inputs(published: Path, period: Period) -> dict | None:
    """The rows the summary of `period` is made from, or None when the published figures do not cover it."""
    figures_file = published / "benefits_summary_figures.parquet"
    if not figures_file.exists():
        return None
    con = duckdb.connect()
    figures = _rows(con, "SELECT * FROM read_parquet(?) WHERE period_type = ? AND period_start = ?",
                    [str(figures_file), period.kind, period.start])
    if not figures:
        return None
    history = _rows(con, "SELECT month, figure, value FROM (SELECT period_start AS month, * FROM read_parquet(?)) "
                         "WHERE period_type = 'month' AND month <= ? AND month > ? ORDER BY month",
                    [str(figures_file), period.end, add_months(period.end, -24)])
    benefits = _rows(con, "SELECT * FROM read_parquet(?) WHERE month = ? ORDER BY benefit_id",
                     [str(published / "benefits_realisation.parquet"), period.end])
    savings_cost = None
    savings_file = published / "channel_shift_savings.parquet"
    if savings_file.exists():
        # the services the channel-shift total counts (both measures in every month of the period) and their cost
        savings_cost = _rows(con, (Path(__file__).parent / "summary_savings_cost.sql").read_text(encoding="utf-8"),
                             [str(savings_file), period.start, period.end])[0]
    status_file = published / "submission_status.parquet"
    returns = None
    if status_file.exists():
        returns = _rows(con, "SELECT * FROM read_parquet(?) WHERE month BETWEEN ? AND ? ORDER BY agency_name, month",
                        [str(status_file), period.start, period.end])
        latest = con.execute("SELECT max(first_received_at) FROM read_parquet(?) WHERE month <= ?",
                             [str(status_file), period.end]).fetchall()[0][0]
        returns = {"rows": returns, "latest_received": latest}
    con.close()
    return {"figures": {f["figure"]: f for f in figures}, "history": history, "benefits": benefits,
            "savings_cost": savings_cost, "returns": returns}


# --- charts: SVG, no dates, greyscale-readable (line styles and markers, not colours) ----------------------------

def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    return buffer.getvalue()


def _month_axis(axes, months: list[dt.date]) -> None:
    """Months named on the x axis (Jul 2025), at most six of them at even steps, never ISO dates."""
    import matplotlib.dates as mdates

    if not months:
        return
    span = (months[-1].year - months[0].year) * 12 + months[-1].month - months[0].month + 1
    step = next(step for step in (1, 2, 3, 6, 12, 24) if span <= step * 6)
    axes.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, step) if step < 12 else (1,)))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    axes.set_xlim(months[0] - dt.timedelta(days=20), months[-1] + dt.timedelta(days=20))


def _millions_axis(axes) -> None:
    """Money on the y axis in £ million, with as many decimals as the scale needs (£0.2m, never £0m twice)."""
    from matplotlib.ticker import FuncFormatter

    top = axes.get_ylim()[1]
    places = 0 if top >= 10 else 1 if top >= 1 else 2
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:,.{places}f}m"))


def chart_figures(history: list[dict]) -> dict:
    """The summary's two charts as matplotlib figures: money axes in £ million, rates from 0%, months named."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    with plt.rc_context(CHART_STYLE):
        savings, axes = plt.subplots(figsize=(4.2, 2.9), layout="constrained")
        for name, label, line in (("cashable_realised_to_date_gbp", "Realised (cashable)", "-"),
                                  ("cashable_planned_to_date_gbp", "Planned (cashable)", "--"),
                                  ("non_cashable_realised_to_date_gbp", "Realised (non-cashable)", ":")):
            points = series(history, name)
            if points:
                axes.plot([m for m, _ in points], [v / 1e6 for _, v in points], line, color="black" if "Realised"
                          in label else "0.45", marker="o" if line == "-" else None, markersize=3, label=label)
        axes.set_ylim(bottom=0)
        _millions_axis(axes)
        axes.set_ylabel("Savings to date")
        _month_axis(axes, [m for m, _ in series(history, "cashable_realised_to_date_gbp")])
        axes.legend(frameon=False, loc="upper left")
        axes.grid(axis="y", color="0.85", linewidth=0.6)
        take_up, axes = plt.subplots(figsize=(4.2, 2.9), layout="constrained")
        points = series(history, "digital_take_up_rate")
        axes.plot([m for m, _ in points], [v * 100 for _, v in points], "-", color="black", marker="o", markersize=3)
        axes.set_ylim(0, 100)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
        axes.set_ylabel("Digital take-up")
        _month_axis(axes, [m for m, _ in points])
        axes.grid(axis="y", color="0.85", linewidth=0.6)
    return {"savings": savings, "take_up": take_up}


def charts(history: list[dict]) -> dict[str, str]:
    import matplotlib.pyplot as plt

    with plt.rc_context(CHART_STYLE):
        return {name: _svg(figure) for name, figure in chart_figures(history).items()}


# --- rendering ---------------------------------------------------------------------------------------------------

def render_html(body: dict, svgs: dict[str, str]) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    # inline SVG announced as one image with its text alternative (the charts' text is drawn as paths)
    alt = {"savings": body["charts"]["savings_alt"], "take_up": body["charts"]["take_up_alt"]}
    inline = {name: svg[svg.index("<svg"):].replace("<svg ", f'<svg role="img" aria-label="{html.escape(text)}" ', 1)
              for name, svg in svgs.items() for text in [alt[name]]}
    return environment.get_template("benefits_summary.html.j2").render(
        body=body, svgs=inline, css=(TEMPLATES / "benefits_summary.css").read_text(encoding="utf-8"))


@cache
def _compiler():
    """One compiler for every summary: loading the template and fonts once makes each PDF ~5x faster."""
    import matplotlib
    import typst

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return typst.Compiler(str(TEMPLATES / "benefits_summary.typ"), root=str(TEMPLATES), font_paths=[str(fonts)],
                          ignore_system_fonts=True)


def render_pdf(body: dict, svgs: dict[str, str]) -> bytes:
    return _compiler().compile(sys_inputs={"content": json.dumps(body), "savings_chart": svgs["savings"],
                                        "take_up_chart": svgs["take_up"]}, pdf_standards="ua-1")


def _write(target: Path, data: bytes) -> None:
    """Write to a temporary name and rename: a reader never sees half a file."""
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def build_summaries(store: DataStore, months: list[dt.date]) -> list[str]:
    """Write the summaries of each month in `months` and of each quarter ending in one; returns the files."""
    folder = store.published / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for period in periods_ending_in(months):
        inputs = read_inputs(store.published, period)
        if inputs is None:
            continue
        body, svgs = content(inputs, period, version("service-performance")), charts(inputs["history"])
        page, pdf = render_html(body, svgs), render_pdf(body, svgs)
        _write(folder / f"{period.stem}.html", page.encode("utf-8"))
        _write(folder / f"{period.stem}.pdf", pdf)
        written += [f"{period.stem}.pdf", f"{period.stem}.html"]
    return written


@dg.asset(pool=WAREHOUSE_POOL, group_name="publish", partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run(),
          deps=["pub_open_data"], kinds={"pdf", "html"})
def pub_benefits_summary(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
    """The ministers' benefits summary (PDF and HTML) of each month, and of each financial quarter it ends."""
    written = build_summaries(store, months_in(context.partition_time_window))
    return dg.MaterializeResult(metadata={"folder": str(store.published / "reports"), "files": len(written),
                                          "written": dg.MetadataValue.json(written)})
