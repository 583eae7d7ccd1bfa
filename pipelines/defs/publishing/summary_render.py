"""Rendering the ministers' summary of one period: reads its rows from the published tables, draws the charts and
lays out the PDF and the HTML page. What the summary says is summary_content.py's; this module only reads its rows and
renders its words. Nothing depends on the clock: "data as of" comes from the data, the version from the package, fonts
are bundled (matplotlib's DejaVu Sans) and chart files carry no dates, so the same inputs give the same bytes.

Imports no Dagster: summary.py runs `render_month` in worker processes (concurrent.futures).
"""

import datetime as dt
import hashlib
import html
import io
import json
import os
import time
from functools import cache
from importlib.metadata import version
from pathlib import Path

import duckdb

from pipelines.defs.publishing.summary_content import content, series
from pipelines.defs.publishing.summary_formats import Period
from transforms.domain import add_months

TEMPLATES = Path(__file__).parent / "templates"
CHART_STYLE = {"svg.hashsalt": "benefits-summary", "svg.fonttype": "path", "font.family": "DejaVu Sans",
               "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
# What a summary is made from besides its rows: a change to any of these renders every summary again.
MAKERS = sorted([*Path(__file__).parent.glob("summary*.py"), *Path(__file__).parent.glob("summary*.sql"),
                 *TEMPLATES.iterdir()])


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
    # months_measured: the benefit's months with an actual value so far (none: it cannot be measured as set up);
    # previous_status: its status at the end of the period before (a month, or three)
    benefits = _rows(con, "SELECT * FROM (SELECT *, count(actual_value) OVER (PARTITION BY benefit_id ORDER BY month) "
                          "AS months_measured, lag(rag_status, ?) OVER (PARTITION BY benefit_id ORDER BY month) AS "
                          "previous_status FROM read_parquet(?)) WHERE month = ? ORDER BY benefit_id",
                     [1 if period.kind == "month" else 3, str(published / "benefits_realisation.parquet"), period.end])
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
    """Money on the y axis in £ million, with as many decimals as the scale needs (£0.2m, never £0m twice); below
    £0.1m in £ thousand (£40k), where £ million would need more decimals than a reader takes in."""
    from matplotlib.ticker import FuncFormatter

    top = axes.get_ylim()[1]
    if top < 0.1:
        places = 0 if top >= 0.01 else 1
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v * 1000:,.{places}f}k"))
        return
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
        if axes.get_legend_handles_labels()[0]:  # a period with no benefit figures has no lines to name
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
    import jinja2  # here, not at the top: the code location imports this module, and only a summary needs it

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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def _makers_sha256() -> str:
    return _sha256(b"".join(_sha256(p.read_bytes()).encode() for p in MAKERS if p.is_file()))


def fingerprint(inputs: dict, product_version: str) -> str:
    """The summary's inputs (its rows, the product's version and the code and templates that render them)."""
    rows = json.dumps(inputs, sort_keys=True, default=str).encode("utf-8")
    return _sha256(b"|".join([rows, product_version.encode(), _makers_sha256().encode()]))


def _named(period: Period) -> dict:
    """What the manifest says of a summary besides its hashes: its period, by name, for the site's list of them."""
    return {"kind": period.kind, "period_start": period.start.isoformat(), "period_name": period.name}


def render_month(published: Path, periods: list[Period], manifest: dict) -> list[dict]:
    """Write the summaries of `periods` (a month, and the quarter it ends: they share their charts) unless the
    manifest shows the same inputs gave the files that are there now. One result per period written or kept."""
    folder, product_version, svgs, results = published / "reports", version("service-performance"), None, []
    for period in periods:
        started = time.perf_counter()
        inputs = read_inputs(published, period)
        if inputs is None:
            continue
        stamp, known = fingerprint(inputs, product_version), manifest.get(period.stem, {})
        files = {kind: folder / f"{period.stem}.{kind}" for kind in ("pdf", "html")}
        if known.get("inputs_sha256") == stamp and all(
                path.exists() and _sha256(path.read_bytes()) == known.get(f"{kind}_sha256")
                for kind, path in files.items()):
            results.append({"stem": period.stem, **known, **_named(period), "status": "unchanged",
                            "seconds": time.perf_counter() - started})
            continue
        body = content(inputs, period, product_version)
        svgs = svgs or charts(inputs["history"])  # the charts show the 24 months to the period's end
        rendered = {"html": render_html(body, svgs).encode("utf-8"), "pdf": render_pdf(body, svgs)}
        for kind, data in rendered.items():
            _write(files[kind], data)
        results.append({"stem": period.stem, **_named(period), "inputs_sha256": stamp, "status": "written",
                        **{f"{kind}_sha256": _sha256(data) for kind, data in rendered.items()},
                        "seconds": time.perf_counter() - started})
    return results
