"""The ministers' benefits summary: a PDF and an HTML page for each month and each financial quarter (April-March
year), under data/published/reports/ (benefits-summary-2025-12.pdf, benefits-summary-2025-26-Q3.html, ...).

The summary only formats numbers it reads from the published tables (benefits_summary_figures,
benefits_realisation, submission_status); every sentence is generated from them. Nothing depends on the clock:
"data as of" comes from the data, the version from the package, fonts are bundled (matplotlib's DejaVu Sans) and
chart files carry no dates, so the same inputs give the same text and the same bytes.
"""


import datetime as dt
import hashlib
import html
import io
import json
import os
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import duckdb
import jinja2
import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import typst  # noqa: E402

from pipelines.lib.partitions import monthly, months_in  # noqa: E402
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore  # noqa: E402

TEMPLATES = Path(__file__).parent / "templates"
FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
MINUS = "\u2212"
STATUS_ORDER = {"red": 0, "amber": 1, "no data": 2, "green": 3}
RATE_MEASURES = ("digital_take_up_rate", "completion_rate", "satisfaction_score", "satisfied_share")
MEASURE_NAMES = {"digital_take_up_rate": "digital take-up", "cost_per_transaction_gbp": "cost per transaction",
                 "channel_shift_saving_gbp": "channel-shift saving to date",
                 "completion_rate": "completion rate", "satisfaction_score": "satisfaction score",
                 "satisfied_share": "share satisfied"}
FY_QUARTER_MONTHS = (6, 9, 12, 3)  # the last month of each financial quarter
# The methods and caveats section, the same in both formats (the RAG thresholds are benefits_realisation.sql's).
METHODS = [
    ("Why the two savings differ",
     "The theoretical measure prices each transaction moved online at the gap between offline and digital unit "
     "costs at the baseline month; it ignores what happened to unit costs since. The counterfactual measure compares "
     "what this volume would have cost at the baseline channel mix and unit costs with what it actually cost, so it "
     "also moves with pay, contracts and fixed costs spread over fewer offline transactions. When digital unit costs "
     "rise, the theoretical figure can be far above the money actually saved."),
    ("Attribution",
     "Neither measure proves that channel shift alone caused the change; both are reported, never added, and "
     "cashable and non-cashable savings are kept apart."),
    ("Status (RAG)",
     "Shortfall = how far the actual value is behind the planned value, as a share of the whole promised change "
     "(baseline to target; reversed for dis-benefits). Green: a shortfall of at most 5%; amber: more than 5% and at "
     "most 20%; red: more than 20%. No data: the measure has no figure for the month, shown as such, never as zero."),
    ("Plan",
     "The register's trajectory points, with straight lines between them; without a trajectory, a straight line "
     "from baseline to target."),
    ("Savings benefits",
     "A benefit measured by channel-shift saving uses the counterfactual measure, added up from the benefit's "
     "baseline month; one measured by cost per transaction realises (baseline - actual unit cost) x transactions "
     "each month."),
    ("Forecast",
     "A least-squares straight line through the last six months' values (at least three), read at the target "
     "month. Seasonal services make it rough."),
    ("Like-for-like",
     "Totals count only items with every figure they need; \"not like-for-like\" marks a change between periods "
     "whose items differ. Savings to date and cumulative savings add up the months with figures."),
    ("Sources",
     "The published tables benefits_summary_figures, benefits_realisation, channel_shift_savings and "
     "submission_status, built from agencies' returns and the benefits register by the pipeline named above."),
]
CAPTIONS = {
    "savings": "Cashable savings realised to date (solid line with dots) against the plan to date (dashed line), "
               "benefits measured in money, dis-benefits apart.",
    "take_up": "Digital take-up across government: online completed transactions as a share of all completed "
               "transactions, volume-weighted.",
    "benefits": "Red first, then amber, no data and green. Planned and actual values are for the period's last "
                "month; the forecast is the value the recent trend reaches at the target month.",
}


@dataclass(frozen=True)
class Period:
    kind: str   # month | quarter
    start: dt.date
    end: dt.date  # the first day of the period's last month

    @property
    def label(self) -> str:
        """As in benefits_summary_figures.period_label: 2025-12, or 2025-26 Q3."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        year = self.start.year - (self.start.month < 4)
        return f"{year}-{(year + 1) % 100:02d} Q{(self.start.month + 8) % 12 // 3 + 1}"

    @property
    def name(self) -> str:
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        return f"{self.label} ({self.start:%B} to {self.end:%B %Y})"

    @property
    def stem(self) -> str:
        return f"benefits-summary-{self.label.replace(' ', '-')}"

    @property
    def previous_name(self) -> str:
        months = 1 if self.kind == "month" else 3
        start = _add_months(self.start, -months)
        return Period(self.kind, start, _add_months(start, months - 1)).name


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def periods_ending_in(months: list[dt.date]) -> list[Period]:
    """Each month, and each financial quarter whose last month is among them."""
    periods = []
    for month in months:
        periods.append(Period("month", month, month))
        if month.month in FY_QUARTER_MONTHS:
            periods.append(Period("quarter", _add_months(month, -2), month))
    return periods


# --- formatting: the only place numbers become text ------------------------------------------------------------

def gbp(value: float | None, pence: bool = False, sign: bool = False) -> str:
    if value is None:
        return "no data"
    prefix = MINUS if value < 0 else ("+" if sign and value > 0 else "")
    amount = abs(value)
    if pence:
        return f"{prefix}£{amount:,.2f}"
    if amount >= 1e9:
        return f"{prefix}£{amount / 1e9:,.2f}bn"
    if amount >= 1e6:
        return f"{prefix}£{amount / 1e6:,.1f}m"
    return f"{prefix}£{amount:,.0f}"


def percent(share: float | None) -> str:
    return "no data" if share is None else f"{share * 100:.1f}%".replace("-", MINUS)


def points(change: float) -> str:
    """A change in a share, in percentage points."""
    return f"{MINUS if change < 0 else '+'}{abs(change) * 100:.1f} pp"


def count_change(change: float) -> str:
    return "no change" if change == 0 else f"{MINUS if change < 0 else '+'}{abs(change):.0f}"


def measure_value(measure: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if measure in RATE_MEASURES:
        return percent(value)
    return gbp(value, pence=measure == "cost_per_transaction_gbp")


def share_of_target(share: float) -> str:
    return f"{share * 100:.0f}% of the promised change".replace("-", MINUS)


# --- reading the published tables --------------------------------------------------------------------------------

def _rows(con, query: str, params: list) -> list[dict]:
    cursor = con.execute(query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def read_inputs(published: Path, period: Period) -> dict | None:
    """The rows the summary of `period` formats, or None when the published figures do not cover it."""
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
                    [str(figures_file), period.end, _add_months(period.end, -24)])
    benefits = _rows(con, "SELECT * FROM read_parquet(?) WHERE month = ? ORDER BY benefit_id",
                     [str(published / "benefits_realisation.parquet"), period.end])
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
            "returns": returns}


# --- the content: every sentence generated from the rows ---------------------------------------------------------

def _change(figure: dict | None, formatter, period: Period) -> str:
    if figure is None or figure["change"] is None:
        return "no previous period to compare"
    text = f"{formatter(figure['change'])} on {period.previous_name}"
    if figure["same_items_as_previous"] is False:
        text += " (not like-for-like: the items counted changed)"
    return text


def _coverage(figure: dict, items: str) -> str:
    return f"{figure['items_counted']} of {figure['items_in_scope']} {items} with figures"


def headlines(figures: dict, period: Period) -> list[dict]:
    tiles = []
    cashable, planned = figures.get("cashable_realised_to_date_gbp"), figures.get("cashable_planned_to_date_gbp")
    if cashable:
        tiles.append({"label": "Cashable savings realised to date", "value": gbp(cashable["value"]),
                      "detail": f"plan to date {gbp(planned['value'])}; {_coverage(cashable, 'benefits')}",
                      "change": _change(cashable, lambda v: gbp(v, sign=True), period)})
    counterfactual = figures.get("channel_shift_counterfactual_saving_gbp")
    theoretical = figures.get("channel_shift_theoretical_saving_gbp")
    if counterfactual:
        tiles.append({"label": f"Saved by channel shift this {period.kind}", "value": gbp(counterfactual["value"]),
                      "detail": f"counterfactual measure; the theoretical measure gives {gbp(theoretical['value'])}",
                      "change": _change(counterfactual, lambda v: gbp(v, sign=True), period)})
    take_up = figures.get("digital_take_up_rate")
    if take_up:
        tiles.append({"label": "Digital take-up", "value": percent(take_up["value"]),
                      "detail": _coverage(take_up, "services"), "change": _change(take_up, points, period)})
    cpt = figures.get("cost_per_transaction_gbp")
    if cpt:
        tiles.append({"label": "Cost per transaction", "value": gbp(cpt["value"], pence=True),
                      "detail": _coverage(cpt, "services"),
                      "change": _change(cpt, lambda v: gbp(v, pence=True, sign=True), period)})
    statuses = {s: figures.get(f"benefits_{s.replace(' ', '_')}") for s in ("green", "amber", "red", "no data")}
    if statuses["red"]:
        tiles.append({"label": "Benefits off track (red)", "value": f"{statuses['red']['value']:.0f}",
                      "detail": ", ".join(f"{statuses[s]['value']:.0f} {s}" for s in ("green", "amber", "no data"))
                      + f" of {statuses['red']['items_in_scope']} benefits",
                      "change": _change(statuses["red"], count_change, period)})
    return tiles


def _were(count: float) -> str:
    return "was" if count == 1 else "were"


def narrative(figures: dict, period: Period) -> list[str]:
    text = []
    red = figures.get("benefits_red")
    if red:
        counts = {s: figures[f"benefits_{s}"]["value"] for s in ("green", "amber", "red", "no_data")}
        text.append(f"At the end of {period.name}, {counts['green']:.0f} of the {red['items_in_scope']} benefits in "
                    f"the register {_were(counts['green'])} on track (green), {counts['amber']:.0f} "
                    f"{_were(counts['amber'])} behind plan (amber), {counts['red']:.0f} {_were(counts['red'])} off "
                    f"track (red) and {counts['no_data']:.0f} had no data.")
    cashable, planned = figures.get("cashable_realised_to_date_gbp"), figures.get("cashable_planned_to_date_gbp")
    if cashable and cashable["value"] is not None:
        position = "ahead of" if cashable["value"] >= planned["value"] else "behind"
        text.append(f"Cashable savings realised so far stood at {gbp(cashable['value'])}, {position} the "
                    f"{gbp(planned['value'])} planned by now for the same {cashable['items_counted']} benefits.")
        non_cashable = figures.get("non_cashable_realised_to_date_gbp")
        if non_cashable and non_cashable["value"] is not None:
            text.append(f"Non-cashable savings, reported separately and never added to cashable ones, stood at "
                        f"{gbp(non_cashable['value'])}.")
    counterfactual = figures.get("channel_shift_counterfactual_saving_gbp")
    if counterfactual and counterfactual["value"] is not None:
        theoretical = figures["channel_shift_theoretical_saving_gbp"]
        text.append(f"Moving transactions online saved {gbp(counterfactual['value'])} this {period.kind} by the "
                    f"counterfactual measure (what the transactions would have cost at the baseline channel mix and "
                    f"unit costs, less what they did cost). The theoretical measure gives "
                    f"{gbp(theoretical['value'])}. The two answer different questions and are not added together.")
    take_up, cpt = figures.get("digital_take_up_rate"), figures.get("cost_per_transaction_gbp")
    if take_up and take_up["value"] is not None:
        sentence = f"Digital take-up was {percent(take_up['value'])}"
        if take_up["change"] is not None:
            sentence += f" ({points(take_up['change'])} on {period.previous_name})"
        if cpt and cpt["value"] is not None:
            sentence += f" and the cost per transaction was {gbp(cpt['value'], pence=True)}"
            if cpt["change"] is not None:
                sentence += f" ({gbp(cpt['change'], pence=True, sign=True)})"
        text.append(sentence + f", over {take_up['items_counted']} of {take_up['items_in_scope']} services.")
    return text


def benefit_row(b: dict) -> dict:
    measure = b["measure"]
    forecast = "no forecast"
    if b["forecast_value"] is not None:
        forecast = f"forecast {measure_value(measure, b['forecast_value'])}"
        if b["forecast_share_of_target"] is not None:
            forecast += f" ({share_of_target(b['forecast_share_of_target'])})"
    return {"id": b["benefit_id"], "title": b["title"], "category": b["category"], "owner": b["owner"],
            "measure": MEASURE_NAMES[measure], "planned": measure_value(measure, b["planned_value"]),
            "actual": measure_value(measure, b["actual_value"]), "status": b["rag_status"],
            "status_label": b["rag_status"].capitalize(), "forecast": forecast,
            "target": f"target {measure_value(measure, b['target_value'])} by {b['target_month']:%b %Y}"}


def attention(benefits: list[dict], period: Period) -> list[str]:
    items = []
    for b in sorted(benefits, key=lambda b: (STATUS_ORDER[b["rag_status"]], b["benefit_id"])):
        measure = b["measure"]
        if b["rag_status"] == "red":
            items.append(f"Red: {b['benefit_id']} {b['title']}. {MEASURE_NAMES[measure].capitalize()} "
                         f"{measure_value(measure, b['actual_value'])} against "
                         f"{measure_value(measure, b['planned_value'])} planned; owner {b['owner']}.")
        elif b["rag_status"] == "no data":
            items.append(f"No data: {b['benefit_id']} {b['title']}. No {MEASURE_NAMES[measure]} figure for "
                         f"{period.end:%B %Y}"
                         + (f" ({b['services_measured']} of {b['services_in_group']} services measured)"
                            if b["services_in_group"] > 1 else "")
                         + f"; owner {b['owner']}.")
    return items


def late_returns(returns: dict | None) -> list[str] | None:
    if returns is None:
        return None
    items = []
    for r in returns["rows"]:
        if r["status"] == "late":
            items.append(f"{r['agency_name']}: the return for {r['month']:%B %Y} arrived late, on "
                         f"{r['first_received_at']:%d %B %Y} (due {r['due_date']:%d %B %Y}).")
        elif r["status"] == "missing":
            items.append(f"{r['agency_name']}: the return for {r['month']:%B %Y} is missing "
                         f"(due {r['due_date']:%d %B %Y}).")
    return items


def content(inputs: dict, period: Period) -> dict:
    figures, returns = inputs["figures"], inputs["returns"]
    as_of = f"Data as of: returns for months up to {period.end:%B %Y}"
    if returns and returns["latest_received"] is not None:
        as_of += f", the latest received on {returns['latest_received']:%d %B %Y}"
    elif returns is None:
        as_of += " (no return-status data)"
    savings = {name: figures.get(f"channel_shift_{name}") for name in
               ("theoretical_saving_gbp", "counterfactual_saving_gbp", "theoretical_cumulative_gbp",
                "counterfactual_cumulative_gbp")}
    body = {
        "title": f"Benefits realisation summary: {period.name}",
        "kind": "Monthly" if period.kind == "month" else "Quarterly",
        "period": period.name,
        "as_of": as_of,
        "version": f"Version {version('service-performance')} of the service performance pipeline",
        "headlines": headlines(figures, period),
        "narrative": narrative(figures, period),
        "attention": attention(inputs["benefits"], period),
        "benefits": [benefit_row(b) for b in sorted(inputs["benefits"], key=lambda b: (
            STATUS_ORDER[b["rag_status"]], b["benefit_id"]))],
        "late_returns": late_returns(returns),
        "savings": {name: (gbp(row["value"]) if row else "no data") for name, row in savings.items()},
        "savings_coverage": (f"{savings['counterfactual_saving_gbp']['items_counted']} of "
                             f"{savings['counterfactual_saving_gbp']['items_in_scope']} services with an online "
                             f"channel and a baseline month had both savings figures"
                             if savings["counterfactual_saving_gbp"] else "no service had savings figures"),
        "charts": chart_texts(inputs["history"], period),
        "captions": CAPTIONS,
        "methods": [{"heading": heading, "text": text} for heading, text in METHODS],
    }
    body["checksum"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return body


# --- charts: SVG, no dates, greyscale-readable (line styles and markers, not colours) ----------------------------

def _series(history: list[dict], figure: str) -> list[tuple[dt.date, float]]:
    return [(h["month"], h["value"]) for h in history if h["figure"] == figure and h["value"] is not None]


def chart_texts(history: list[dict], period: Period) -> dict:
    realised = _series(history, "cashable_realised_to_date_gbp")
    planned = _series(history, "cashable_planned_to_date_gbp")
    take_up = _series(history, "digital_take_up_rate")
    savings_alt = "No cashable savings figures for this period."
    if realised and planned:
        savings_alt = (f"Line chart of cashable savings realised to date against plan, {realised[0][0]:%B %Y} to "
                       f"{realised[-1][0]:%B %Y}: realised {gbp(realised[0][1])} to {gbp(realised[-1][1])}, "
                       f"planned {gbp(planned[0][1])} to {gbp(planned[-1][1])}.")
    take_up_alt = "No digital take-up figures for this period."
    if take_up:
        take_up_alt = (f"Line chart of digital take-up across government, {take_up[0][0]:%B %Y} to "
                       f"{take_up[-1][0]:%B %Y}: from {percent(take_up[0][1])} to {percent(take_up[-1][1])}.")
    return {"savings_alt": savings_alt, "take_up_alt": take_up_alt}


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    return buffer.getvalue()


def charts(history: list[dict]) -> dict[str, str]:
    style = {"svg.hashsalt": "benefits-summary", "svg.fonttype": "path", "font.family": "DejaVu Sans",
             "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    with plt.rc_context(style):
        figure, axes = plt.subplots(figsize=(7, 2.8))
        for name, label, line in (("cashable_realised_to_date_gbp", "Realised (cashable)", "-"),
                                  ("cashable_planned_to_date_gbp", "Planned (cashable)", "--"),
                                  ("non_cashable_realised_to_date_gbp", "Realised (non-cashable)", ":")):
            series = _series(history, name)
            if series:
                axes.plot([m for m, _ in series], [v / 1e6 for _, v in series], line, color="black" if "Realised"
                          in label else "0.45", marker="o" if line == "-" else None, markersize=3, label=label)
        axes.set_ylabel("GBP million, to date")
        axes.legend(frameon=False, loc="upper left")
        axes.grid(axis="y", color="0.85", linewidth=0.6)
        savings = _svg(figure)
        figure, axes = plt.subplots(figsize=(7, 2.4))
        series = _series(history, "digital_take_up_rate")
        axes.plot([m for m, _ in series], [v * 100 for _, v in series], "-", color="black", marker="o", markersize=3)
        axes.set_ylabel("Digital take-up, %")
        axes.grid(axis="y", color="0.85", linewidth=0.6)
        take_up = _svg(figure)
    return {"savings": savings, "take_up": take_up}


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
def _compiler() -> typst.Compiler:
    """One compiler for every summary: loading the template and fonts once makes each PDF ~5x faster."""
    return typst.Compiler(str(TEMPLATES / "benefits_summary.typ"), root=str(TEMPLATES), font_paths=[str(FONTS)],
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
        body, svgs = content(inputs, period), charts(inputs["history"])
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
