"""What the ministers' benefits summary says: pure functions from the summary tables' rows to its words and figures.

Nothing here reads a file, draws a chart or lays out a page (summary.py, beside it, does); every sentence and every
formatted figure of the summary is made here, from the rows of benefits_summary_figures, benefits_realisation,
channel_shift_savings and submission_status, so it can be tested on literal rows.
"""

import datetime as dt
import hashlib
import json

from pipelines.defs.publishing.summary_formats import (MEASURE_NAMES, STATUS_ORDER, Period, count_change, gbp,
                                                     measure_value, percent, points, table_value)

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
     "most 20%; red: more than 20%. No data: the measure has no figure for the month, shown as such, never as zero. "
     "For a dis-benefit (a harm accepted in the plan, such as a dip in satisfaction while a phone line closes) green "
     "means the harm is no worse than the plan allowed for."),
    ("Status and forecast",
     "They answer different questions: the status judges the latest figure against the plan for that month; the "
     "forecast judges where the recent trend leads by the target month. A benefit can be green today and forecast to "
     "miss its target: it is then marked \"Green but forecast to miss\" and listed under Needs attention. A benefit "
     "whose services have never reported what its measure needs cannot be measured as it is set up; it is named as "
     "such, with the figure that is missing."),
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
    ("Changes and rounding",
     "Each change is worked out from the unrounded figures and then rounded, so it can differ in its last digit from "
     "the difference of the two rounded figures shown. A change that rounds to zero has no sign; where there is no "
     "figure for the period before, the change reads \"no comparison\"."),
    ("Sources",
     "The published tables benefits_summary_figures, benefits_realisation, channel_shift_savings and "
     "submission_status, built from agencies' returns and the benefits register by the pipeline named above."),
]
CAPTIONS = {
    "savings": "Cashable savings realised to date (solid line with dots) against the plan to date (dashed line), "
               "benefits measured in money, dis-benefits apart.",
    "take_up": "Digital take-up across government: online completed transactions as a share of all completed "
               "transactions, volume-weighted; the axis starts at 0%.",
    "benefits": "Red first, then amber, no data and green. Planned and actual values are for the period's last "
                "month; the forecast is the value the recent trend reaches at the target month. Money to date is "
                "in £ million throughout; cost per transaction in pounds and pence.",
}


# What each measure is made from, for a benefit that can never be measured because its services never send it.
MEASURE_NEEDS = {"digital_take_up_rate": "completed transactions by channel",
                 "cost_per_transaction_gbp": "costs and completed transactions",
                 "channel_shift_saving_gbp": "costs and completed transactions by channel",
                 "completion_rate": "transactions started", "satisfaction_score": "30 or more ratings a month",
                 "satisfied_share": "30 or more ratings a month"}


def unmeasurable(b: dict) -> str | None:
    """Why a benefit cannot be measured as it is set up (no figure in any month since its baseline), else None."""
    if b.get("months_measured", 1) > 0:
        return None
    services = "its service has never" if b.get("services_in_group", 1) == 1 else "none of its services has"
    return (f"cannot be measured as set up: {services} reported {MEASURE_NEEDS[b['measure']]}, which the "
            f"{MEASURE_NAMES[b['measure']]} needs, in any month since the baseline ({b['baseline_month']:%B %Y})")


def forecast_misses(b: dict) -> bool:
    """The recent trend falls short of a benefit's target by the target month (for a dis-benefit: it leads to more
    harm than the plan allows for)."""
    share = b.get("forecast_share_of_target")
    if share is None:
        return False
    return share > 1 if b["category"] == "dis-benefit" else share < 1


def forecast_words(b: dict, formatter=measure_value) -> str:
    """Where the recent trend leads by the target month, against the target, in words.

    For a benefit, the promised change runs from baseline to target; for a dis-benefit the target is the harm the
    plan allows for, so reaching it is bad news and falling short of it is good news."""
    measure, month = b["measure"], f"{b['target_month']:%B %Y}"
    if unmeasurable(b):
        return f"no forecast: {unmeasurable(b)}"
    if b["forecast_value"] is None or b["forecast_share_of_target"] is None:
        return (f"no forecast (too few recent months with figures); target "
                f"{formatter(measure, b['target_value'])} by {month}")
    forecast, target = formatter(measure, b["forecast_value"]), formatter(measure, b["target_value"])
    baseline, share = formatter(measure, b["baseline_value"]), b["forecast_share_of_target"]
    if b["category"] == "dis-benefit":
        change = "fall" if b["target_value"] < b["baseline_value"] else "rise"
        if share <= 0:
            side = "above" if change == "fall" else "below"
            return (f"no {change} expected: heading for {forecast} by {month}, {side} the {baseline} baseline "
                    f"(a {change} to {target} was allowed for)")
        if share <= 1:
            return f"heading for {forecast} by {month}, within the {change} to {target} allowed for"
        return f"heading for {forecast} by {month}, worse than the {change} to {target} allowed for"
    if share >= 1:
        return f"on course to reach the {target} target by {month} (trend: {forecast})"
    if share > 0:
        return f"on course to reach {forecast} by {month}, short of the {target} target"
    return f"heading for {forecast} by {month}: moving away from the {target} target (baseline {baseline})"


GREEN_TO_MISS = "Green but forecast to miss"


def status_note(b: dict) -> str:
    """Beside a status: for a dis-benefit, which way the news is (green is a harm no worse than the plan allowed
    for); for a green benefit whose trend misses its target, that flag, so the colour and the forecast beside it
    never seem to contradict."""
    notes = []
    if b["category"] == "dis-benefit" and b["rag_status"] != "no data":
        notes.append("harm no worse than allowed for" if b["rag_status"] == "green" else "harm worse than allowed for")
    if b["rag_status"] == "green" and forecast_misses(b):
        notes.append("but forecast to miss")  # under "Green": the flag GREEN_TO_MISS
    return "; ".join(notes)


# --- the content: every sentence generated from the rows ---------------------------------------------------------

def _change(figure: dict | None, formatter, period: Period) -> str:
    if figure is None or figure["change"] is None:
        return f"no comparison: no figure for {period.previous_name}"
    text = f"{formatter(figure['change'])} on {period.previous_name}"
    if figure["same_items_as_previous"] is False:
        text += " (not like-for-like: the items counted changed)"
    return text


def _coverage(figure: dict, items: str) -> str:
    return f"{figure['items_counted']} of {figure['items_in_scope']} {items} with figures"


def headlines(figures: dict, period: Period, savings_cost: dict | None = None) -> list[dict]:
    """The page-1 tiles; each says in `covers` what its figure is made of."""
    tiles = []
    cashable, planned = figures.get("cashable_realised_to_date_gbp"), figures.get("cashable_planned_to_date_gbp")
    if cashable:
        tiles.append({"label": "Cashable savings realised to date", "value": gbp(cashable["value"]),
                      "covers": f"Covers: the register's {cashable['items_in_scope']} cashable benefits measured in "
                                f"money, each added up since its baseline month.",
                      "detail": f"plan to date {gbp(planned['value'])}; {_coverage(cashable, 'benefits')}",
                      "change": _change(cashable, lambda v: gbp(v, sign=True), period)})
    counterfactual = figures.get("channel_shift_counterfactual_saving_gbp")
    theoretical = figures.get("channel_shift_theoretical_saving_gbp")
    if counterfactual:
        covers = (f"Covers: {counterfactual['items_counted']} services with an online channel, this {period.kind} "
                  f"only; not a register benefit and not to be added to the figure beside it.")
        if savings_cost and savings_cost.get("cost_gbp"):
            covers += (f" It equals {percent(savings_cost['saving_gbp'] / savings_cost['cost_gbp'])} of what those "
                       f"services cost this {period.kind} ({gbp(savings_cost['cost_gbp'])}).")
        tiles.append({"label": f"Saved by channel shift this {period.kind}", "value": gbp(counterfactual["value"]),
                      "covers": covers,
                      "detail": f"counterfactual measure; the theoretical measure gives {gbp(theoretical['value'])}",
                      "change": _change(counterfactual, lambda v: gbp(v, sign=True), period)})
    take_up = figures.get("digital_take_up_rate")
    if take_up:
        tiles.append({"label": "Digital take-up", "value": percent(take_up["value"]),
                      "covers": f"Covers: completed transactions of all services with figures, this {period.kind}.",
                      "detail": _coverage(take_up, "services"), "change": _change(take_up, points, period)})
    cpt = figures.get("cost_per_transaction_gbp")
    if cpt:
        tiles.append({"label": "Cost per transaction", "value": gbp(cpt["value"], pence=True),
                      "covers": f"Covers: total cost over completed transactions of all services with figures, "
                                f"this {period.kind}.",
                      "detail": _coverage(cpt, "services"),
                      "change": _change(cpt, lambda v: gbp(v, pence=True, sign=True), period)})
    statuses = {s: figures.get(f"benefits_{s.replace(' ', '_')}") for s in ("green", "amber", "red", "no data")}
    if statuses["red"]:
        tiles.append({"label": "Benefits off track (red)", "value": f"{statuses['red']['value']:.0f}",
                      "covers": f"Covers: every benefit in the register, at the end of {period.end:%B %Y}.",
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
        if cashable and cashable["value"] is not None:
            text.append(f"The two savings headlines measure different things: {gbp(cashable['value'])} is the "
                        f"register's cashable benefits since their baselines; {gbp(counterfactual['value'])} is one "
                        f"{period.kind} of channel shift across {counterfactual['items_counted']} services, which "
                        f"overlaps with the register's own channel-shift benefits.")
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


def status_since(b: dict, period: Period) -> str:
    """A status that changed since the period before, so a quarter's table says what the quarter changed."""
    previous = b.get("previous_status")
    if previous is None or previous == b["rag_status"]:
        return ""
    return f"was {previous} {'in' if period.kind == 'month' else 'at the end of'} {period.previous_name}"


def benefit_row(b: dict, period: Period) -> dict:
    measure = b["measure"]
    category = b["category"]
    note = "; ".join(text for text in (status_note(b), status_since(b, period)) if text)
    return {"id": b["benefit_id"], "title": b["title"], "category": category, "owner": b["owner"],
            "measure": MEASURE_NAMES[measure], "planned": table_value(measure, b["planned_value"]),
            "actual": table_value(measure, b["actual_value"]), "status": b["rag_status"],
            "status_label": b["rag_status"].capitalize(), "status_note": note,
            "forecast": forecast_words(b, table_value)}


def attention(benefits: list[dict], period: Period) -> list[str]:
    items = []
    for b in sorted(benefits, key=lambda b: (STATUS_ORDER[b["rag_status"]], b["benefit_id"])):
        measure = b["measure"]
        if b["rag_status"] == "red":
            items.append(f"Red: {b['benefit_id']} {b['title']}. {MEASURE_NAMES[measure].capitalize()} "
                         f"{measure_value(measure, b['actual_value'])} against "
                         f"{measure_value(measure, b['planned_value'])} planned; owner: {b['owner']}.")
        elif b["rag_status"] == "no data" and unmeasurable(b):
            items.append(f"No data: {b['benefit_id']} {b['title']} {unmeasurable(b)}; owner: {b['owner']}.")
        elif b["rag_status"] == "no data":
            items.append(f"No data: {b['benefit_id']} {b['title']}. No {MEASURE_NAMES[measure]} figure for "
                         f"{period.end:%B %Y}"
                         + (f" ({b['services_measured']} of {b['services_in_group']} services measured)"
                            if b["services_in_group"] > 1 else "")
                         + f"; owner: {b['owner']}.")
        elif b["rag_status"] == "green" and forecast_misses(b):
            items.append(f"{GREEN_TO_MISS}: {b['benefit_id']} {b['title']}. On plan in {period.end:%B %Y}, but "
                         f"{forecast_words(b)}; owner: {b['owner']}.")
    return items


def late_returns(returns: dict | None) -> list[str] | None:
    if returns is None:
        return None
    items = []
    for r in returns["rows"]:
        # a quarterly or yearly return is named by its period (Q4 2017-18 (Jan-Mar 2018), 2017-18), a monthly one
        # by its month
        period = r.get("period_name") or f"{r['month']:%B %Y}"
        if r["status"] == "late":
            items.append(f"{r['agency_name']}: the return for {period} arrived late, on "
                         f"{r['first_received_at']:%d %B %Y} (due {r['due_date']:%d %B %Y}).")
        elif r["status"] == "missing":
            items.append(f"{r['agency_name']}: the return for {period} is missing "
                         f"(due {r['due_date']:%d %B %Y}).")
    return items


def series(history: list[dict], figure: str) -> list[tuple[dt.date, float]]:
    """One figure's monthly values, oldest first, months without a figure left out."""
    return [(h["month"], h["value"]) for h in history if h["figure"] == figure and h["value"] is not None]


def chart_texts(history: list[dict]) -> dict:
    realised = series(history, "cashable_realised_to_date_gbp")
    planned = series(history, "cashable_planned_to_date_gbp")
    take_up = series(history, "digital_take_up_rate")
    savings_alt = "No cashable savings figures for this period."
    if realised and planned:
        savings_alt = (f"Line chart of cashable savings realised to date against plan, {realised[0][0]:%B %Y} to "
                       f"{realised[-1][0]:%B %Y}: realised {gbp(realised[0][1])} to {gbp(realised[-1][1])}, "
                       f"planned {gbp(planned[0][1])} to {gbp(planned[-1][1])}.")
    take_up_alt = "No digital take-up figures for this period."
    if take_up:
        take_up_alt = (f"Line chart of digital take-up across government, month by month: from "
                       f"{percent(take_up[0][1])} in {take_up[0][0]:%B %Y} to {percent(take_up[-1][1])} in "
                       f"{take_up[-1][0]:%B %Y}.")
    return {"savings_alt": savings_alt, "take_up_alt": take_up_alt}


def content(inputs: dict, period: Period, version: str) -> dict:
    """Every word and figure of the summary of `period`, from the rows `inputs` holds (see summary.read_inputs)."""
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
        "version": f"Version {version} of the service performance pipeline",
        "headlines": headlines(figures, period, inputs.get("savings_cost")),
        "narrative": narrative(figures, period),
        "attention": attention(inputs["benefits"], period),
        "benefits": [benefit_row(b, period) for b in sorted(inputs["benefits"], key=lambda b: (
            STATUS_ORDER[b["rag_status"]], b["benefit_id"]))],
        "late_returns": late_returns(returns),
        "savings": {name: (gbp(row["value"]) if row else "no data") for name, row in savings.items()},
        "savings_coverage": (f"{savings['counterfactual_saving_gbp']['items_counted']} of "
                             f"{savings['counterfactual_saving_gbp']['items_in_scope']} services with an online "
                             f"channel and a baseline month had both savings figures"
                             if savings["counterfactual_saving_gbp"] else "no service had savings figures"),
        "charts": chart_texts(inputs["history"]),
        "captions": CAPTIONS,
        "methods": [{"heading": heading, "text": text} for heading, text in METHODS],
    }
    body["checksum"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return body
