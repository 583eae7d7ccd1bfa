"""Deterministic example agencies: monthly returns as agencies would send them, with seeded defects.

Every agency in config/sources.yaml gets services, and every month a return in its registered layout
(canonical CSV, a wide XLSX workbook, or JSON records) under <out>/<agency>/<YYYY-MM>/. The central
service catalogue and a benefits register go under <out>/catalogue/ and <out>/benefits/.

The model: digital take-up follows an S-curve per service, offline cost per transaction is 5-20x the
digital one, tax-like services peak in January, costs come by category (some channel-specific, some shared),
satisfaction comes as rating counts per channel. Defects are seeded at known places and listed by
`generate()`, so tests can find each one in quarantine.

    python -m examples.generator --out data/landing [--start 2023-01 --months 36 --services-per-agency 0]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xlsxwriter

from pipelines.lib.config import PROJECT_CONFIG_DIR, Agency, load_config
from transforms.domain import CHANNELS, add_months

XLSX_CHANNEL = {"online": "Online", "phone": "Telephone", "face_to_face": "Face to face", "paper": "Post",
                "assisted_digital": "Assisted digital", "other": "Other", "shared": "Shared"}
XLSX_CATEGORY = {"staff": "Staff", "it": "IT", "accommodation": "Accommodation", "overheads": "Overheads",
                 "third_party": "Third party", "other": "Other"}

# Per agency: id prefix, the kind of services, their names, and the month (1-12) of the seasonal peak.
SERVICES = {
    "revenue": ("REV", "tax", 1, ["File a self assessment tax return", "Register for VAT", "Pay employer PAYE",
                                  "Claim a tax refund", "Apply for a tax-free childcare account",
                                  "Register a trust", "Check income tax"]),
    "vehicles": ("VEH", "licence", 3, ["Renew a driving licence", "Tax a vehicle", "Register a vehicle",
                                        "Apply for a provisional licence", "Change address on a licence",
                                        "Get a vehicle history check"]),
    "passports": ("PAS", "licence", 4, ["Renew a passport", "Apply for a first adult passport",
                                         "Apply for a child passport", "Report a lost passport",
                                         "Get a passport urgently", "Track a passport application"]),
    "pensions": ("PEN", "benefit", 10, ["Claim state pension", "Apply for carer's allowance",
                                         "Report a change of circumstances", "Apply for a budgeting loan",
                                         "Claim bereavement support", "Get a pension statement",
                                         "Apply for a winter fuel payment"]),
    "land": ("LND", "registration", 6, ["Register a property transfer", "Search the land register",
                                         "Update a property title", "Apply for a first registration",
                                         "Register a lease", "Get official copies of a title"]),
    "companies": ("COM", "registration", 9, ["Register a company", "File a confirmation statement",
                                              "File annual accounts", "Change a registered office",
                                              "Appoint a director", "Dissolve a company", "Register a charge"]),
    "courts": ("CRT", "booking", 11, ["Make a money claim", "Apply for divorce", "Apply for probate",
                                       "Pay a court fine", "Apply for help with fees", "Book a hearing room"]),
    "guardian": ("OPG", "registration", 5, ["Make a lasting power of attorney", "Use a lasting power of attorney",
                                             "Complete the deputy report", "Search the guardianship register",
                                             "Apply to become a deputy", "Report a concern about an attorney"]),
    "health": ("HLT", "registration", 2, ["Register with a GP", "Apply for a prescription prepayment",
                                           "Order a medical exemption card", "Register a professional licence",
                                           "Apply for an EHIC", "Request a medical record", "Book a vaccination"]),
    "environment": ("ENV", "permit", 7, ["Apply for a fishing licence", "Register a waste carrier",
                                          "Apply for an abstraction licence", "Report a pollution incident",
                                          "Apply for an environmental permit", "Register a flood warning"]),
}
# Services whose names say they are post-only: no digital channel at all.
NO_DIGITAL = {"Book a hearing room", "Report a concern about an attorney"}

COST_CATEGORIES = ["staff", "it", "accommodation", "overheads", "third_party", "other"]



def _month_starts(start: str, months: int) -> list[dt.date]:
    first = dt.date.fromisoformat(f"{start}-01")
    return [add_months(first, n) for n in range(months)]

@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    agency: Agency
    category: str
    peak_month: int
    channels: tuple[str, ...]
    annual_volume: float
    take_up_start: float
    take_up_end: float
    take_up_midpoint: float
    take_up_speed: float
    digital_cpt: float
    offline_multiple: float


@dataclass(frozen=True)
class Defect:
    """A defect seeded on purpose: the file (relative to the landing folder), data row (1-based) and rule."""
    file: str
    row_number: int | None
    rule: str
    value: str


def build_services(agencies: list[Agency], rng: np.random.Generator, per_agency: int) -> list[Service]:
    services = []
    for agency in agencies:
        prefix, category, peak, names = SERVICES[agency.id]
        for n, name in enumerate(names[:per_agency] if per_agency else names, start=1):
            digital = name not in NO_DIGITAL
            channels = ["online", "assisted_digital"] if digital else []
            channels += [c for c, p in (("phone", 0.8), ("face_to_face", 0.35), ("paper", 0.7), ("other", 0.15))
                         if rng.random() < p]
            if not digital and "paper" not in channels:
                channels.append("paper")
            volume = float(np.exp(rng.normal(11.5, 1.3)))  # median ~100k a year, a long tail of big services
            if n == 1:
                volume *= 20  # each agency's first service is its flagship
            start = float(rng.uniform(0.15, 0.55)) if digital else 0.0
            services.append(Service(
                service_id=f"{prefix}-{n:03d}", name=name, agency=agency, category=category, peak_month=peak,
                channels=tuple(c for c in CHANNELS if c in channels), annual_volume=volume,
                take_up_start=start, take_up_end=min(0.97, start + float(rng.uniform(0.2, 0.45))) if digital else 0.0,
                take_up_midpoint=float(rng.uniform(6, 30)), take_up_speed=float(rng.uniform(0.12, 0.5)),
                digital_cpt=float(rng.uniform(1.5, 9.0)), offline_multiple=float(rng.uniform(5, 20)),
            ))
    return services


def monthly_figures(service: Service, month: dt.date, index: int, rng: np.random.Generator):
    """One month of one service: per-channel (started, completed), costs and rating counts."""
    season = 1 + (1.4 if service.category == "tax" else 0.35) * math.exp(-((month.month - service.peak_month) % 12) ** 2 / 2)
    volume = service.annual_volume / 12 * season * float(rng.normal(1, 0.04))
    share_digital = service.take_up_start + (service.take_up_end - service.take_up_start) / (
        1 + math.exp(-service.take_up_speed * (index - service.take_up_midpoint)))
    offline = [c for c in service.channels if c not in ("online", "assisted_digital")]
    weights = {"online": share_digital, "assisted_digital": 0.03 if "assisted_digital" in service.channels else 0}
    rest = max(0.0, 1 - sum(weights.values()))
    base = {"phone": 0.45, "face_to_face": 0.2, "paper": 0.3, "other": 0.05}
    for c in offline:
        weights[c] = rest * base[c] / sum(base[o] for o in offline)
    completion = {"online": 0.82, "assisted_digital": 0.9, "phone": 0.93, "face_to_face": 0.97, "paper": 0.88,
                  "other": 0.9}
    volumes = {}
    for c in service.channels:
        completed = int(round(volume * weights[c]))
        started = int(round(completed / min(0.99, completion[c] * float(rng.normal(1, 0.02)))))
        volumes[c] = (started, completed)

    # Unit costs: digital has a fixed platform cost, so its unit cost falls as volume grows.
    costs = []
    offline_cpt = service.digital_cpt * service.offline_multiple
    for c in service.channels:
        completed = volumes[c][1]
        unit = service.digital_cpt if c == "online" else offline_cpt * (0.5 if c == "assisted_digital" else 1)
        direct = completed * unit * 0.7
        split = {"staff": 0.25, "it": 0.65, "third_party": 0.10} if c == "online" else {"staff": 0.8, "third_party": 0.2}
        for category, part in split.items():
            costs.append((category, c, round(direct * part * float(rng.normal(1, 0.03)), 2)))
    total_direct = sum(amount for _, _, amount in costs) / 0.7
    for category, part in (("accommodation", 0.4), ("overheads", 0.45), ("other", 0.15)):
        costs.append((category, "shared", round(total_direct * 0.3 * part * float(rng.normal(1, 0.03)), 2)))

    satisfaction = {}
    mean_by_channel = {"online": 4.1, "assisted_digital": 3.9, "phone": 3.6, "face_to_face": 4.2, "paper": 3.3,
                       "other": 3.5}
    for c in service.channels:
        responses = max(3, int(volumes[c][1] * float(rng.uniform(0.002, 0.02))))
        mean = mean_by_channel[c] + float(rng.normal(0, 0.15))
        probabilities = np.exp(-((np.arange(1, 6) - mean) ** 2) / 1.6)
        satisfaction[c] = [int(x) for x in rng.multinomial(responses, probabilities / probabilities.sum())]
    return volumes, costs, satisfaction


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_json(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[list]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": dt.datetime(2026, 1, 1)})  # fixed, so the bytes repeat
    for name, (header, rows) in sheets.items():
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, header)
        for r, row in enumerate(rows, start=1):
            sheet.write_row(r, 0, row)
    workbook.close()


def write_return(root: Path, agency: Agency, month: dt.date, tx: list[list], costs: list[list],
                 sat: list[list], totals: dict[str, int]) -> dict[str, str]:
    """Write one agency's monthly return in its layout; returns the relative file for each return type."""
    folder = root / agency.id / month.strftime("%Y-%m")
    rel = folder.relative_to(root).as_posix()
    if agency.mapping == "xlsx_wide":
        period = month.strftime("%b %Y")
        wide = []
        for service_id, channel_values in _wide(tx):
            values = [channel_values.get(c, "N/A") for c in CHANNELS]
            wide.append([service_id, period, totals[service_id], *values])
        write_xlsx(folder / "monthly_return.xlsx", {
            "Transactions": (["Service code", "Period", "Total completed", *(XLSX_CHANNEL[c] for c in CHANNELS)], wide),
            "Costs": (["Service code", "Period", "Cost type", "Channel", "Amount (GBP thousands)"],
                      [[s, period, XLSX_CATEGORY[cat], XLSX_CHANNEL[ch], _thousands(v)] for s, _, cat, ch, v in costs]),
            "Satisfaction": (["Service code", "Period", "Channel", "Very dissatisfied", "Dissatisfied", "Neither",
                              "Satisfied", "Very satisfied"],
                             [[s, period, XLSX_CHANNEL[ch], *r] for s, _, ch, *r in sat]),
        })
        return {kind: f"{rel}/monthly_return.xlsx" for kind in ("transactions", "costs", "satisfaction")}
    if agency.mapping == "json_records":
        write_json(folder / "transactions.json", [
            {"serviceId": s, "period": m, "channel": c, "started": st, "completed": co} for s, m, c, st, co in tx])
        write_json(folder / "costs.json", [
            {"serviceId": s, "period": m, "costCategory": cat, "channel": ch, "amountGbp": v} for s, m, cat, ch, v in costs])
        write_json(folder / "satisfaction.json", [
            {"serviceId": s, "period": m, "channel": c, **{f"rating{i}": r[i - 1] for i in range(1, 6)}}
            for s, m, c, *r in sat])
        return {kind: f"{rel}/{kind}.json" for kind in ("transactions", "costs", "satisfaction")}
    write_csv(folder / "transactions.csv",
              ["service_id", "month", "channel", "transactions_started", "transactions_completed"], tx)
    write_csv(folder / "costs.csv", ["service_id", "month", "cost_category", "channel", "cost_gbp"],
              [[s, m, cat, ch, f"{v:.2f}" if isinstance(v, float) else v] for s, m, cat, ch, v in costs])
    write_csv(folder / "satisfaction.csv",
              ["service_id", "month", "channel", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5"], sat)
    return {kind: f"{rel}/{kind}.csv" for kind in ("transactions", "costs", "satisfaction")}


def _wide(tx: list[list]) -> list[tuple[str, dict]]:
    by_service: dict[str, dict] = {}
    for service_id, _, channel, _, completed in tx:
        by_service.setdefault(service_id, {})[channel] = completed
    return list(by_service.items())


def _thousands(value):
    return round(value / 1000, 5) if isinstance(value, float) else value


def generate(out: Path, start: str = "2023-01", months: int = 36, services_per_agency: int = 0,
             seed: int = 20230101) -> list[Defect]:
    """Write the example landing folder; return the defects seeded in it."""
    rng = np.random.default_rng(seed)
    agencies = load_config(PROJECT_CONFIG_DIR).agencies  # the bundled registry: the layouts below are its own
    services = build_services(agencies, rng, services_per_agency)
    periods = _month_starts(start, months)
    defects: list[Defect] = []

    write_csv(out / "catalogue" / "services.csv",
              ["service_id", "service_name", "agency_id", "department", "category", "customer_type",
               "channels_offered", "high_volume"],
              [[s.service_id, s.name, s.agency.id, s.agency.department, s.category,
                "business" if s.agency.id in ("companies", "land") or any(
                    word in s.name for word in ("VAT", "employer", "trust", "waste", "permit")) else "citizen",
                ";".join(s.channels), "true" if s.annual_volume >= 1_000_000 else "false"] for s in services])

    missing = ("environment", periods[3])  # a month one agency never sent
    for agency in agencies:
        own = [s for s in services if s.agency.id == agency.id]
        for index, month in enumerate(periods):
            tx, costs, sat = [], [], []
            for service in own:
                volumes, cost_rows, ratings = monthly_figures(service, month, index, rng)
                iso = month.isoformat()
                tx += [[service.service_id, iso, c, st, co] for c, (st, co) in volumes.items()]
                costs += [[service.service_id, iso, cat, ch, v] for cat, ch, v in cost_rows]
                sat += [[service.service_id, iso, c, *r] for c, r in ratings.items()]
            if (agency.id, month) == missing:
                defects.append(Defect(f"{agency.id}/{month:%Y-%m}", None, "return_missing", ""))
                continue
            totals = {}  # the totals an agency reports beside its channel columns, taken before any damage
            for service_id, _, _, _, completed in tx:
                totals[service_id] = totals.get(service_id, 0) + completed
            seeded = _seed(agency.id, index, tx, costs, sat)
            files = write_return(out, agency, month, tx, costs, sat, totals)
            landed = _landed_at(agency, month, index)
            for rel in set(files.values()):
                os.utime(out / rel, (landed, landed))
            defects += [Defect(files[kind], row_number, rule, value) for kind, row_number, rule, value in seeded]
    defects += write_benefits_register(out / "benefits" / "benefits_register.csv", services, periods, rng)
    start_time = dt.datetime.combine(periods[0], dt.time(9, 0), dt.timezone.utc).timestamp()
    for central in ("catalogue/services.csv", "benefits/benefits_register.csv"):
        os.utime(out / central, (start_time, start_time))
    return defects


def due_date(agency: Agency, month: dt.date) -> dt.date:
    """Returns are due on the agency's due day of the following month."""
    following = _month_starts(month.strftime("%Y-%m"), 2)[1]
    return following.replace(day=agency.return_due_day)


def _landed_at(agency: Agency, month: dt.date, index: int) -> float:
    """When the return reached the drop: two days early, except the courts, who are late every fifth month."""
    late = agency.id == "courts" and index % 5 == 2
    day = due_date(agency, month) + dt.timedelta(days=4 if late else -2)
    return dt.datetime.combine(day, dt.time(9, 30), dt.timezone.utc).timestamp()


def _seed(agency_id: str, index: int, tx: list[list], costs: list[list], sat: list[list]) -> list[tuple]:
    """Damage this return in place where the plan says so: (return, data row, rule, value) for each."""
    seeded = []
    if agency_id == "passports" and index == 1:
        costs[2][4] = -abs(costs[2][4])
        seeded.append(("costs", 3, "negative_cost", f"{costs[2][4]:.2f}"))
    if agency_id == "vehicles" and index == 2:
        tx[0][4] = tx[0][4] + 10 * (tx[0][4] + 50)  # the first service's online completions, above its total
        seeded.append(("transactions", 1, "digital_above_total", str(tx[0][4])))
    if agency_id == "revenue" and index == 2:
        tx.append(["REV-999", tx[0][1], "online", 120, 100])
        seeded.append(("transactions", len(tx), "unknown_service", "REV-999"))
    if agency_id == "land" and index == 1:
        tx.insert(2, list(tx[1]))
        seeded.append(("transactions", 3, "duplicate_row", f"{tx[1][0]} {tx[1][2]}"))
    if agency_id == "companies" and index == 4:
        tx[1][4] = "-"
        seeded.append(("transactions", 2, "not_a_number", "-"))
    if agency_id == "health" and index == 4:
        sat[0][5] = "N/A"
        seeded.append(("satisfaction", 1, "not_a_number", "N/A"))
    if agency_id == "guardian" and index == 5:
        tx[0][4] = tx[0][3] + 7
        seeded.append(("transactions", 1, "completed_above_started", str(tx[0][4])))
    return seeded


MEASURES = [("digital_take_up_rate", "ratio", "non-cashable"), ("cost_per_transaction_gbp", "GBP", "cashable"),
            ("channel_shift_saving_gbp", "GBP", "cashable"), ("satisfaction_score", "ratio", "non-cashable"),
            ("completion_rate", "ratio", "non-cashable")]
PROMISES = {"digital_take_up_rate": "more people applying online",
            "cost_per_transaction_gbp": "a lower cost per transaction",
            "channel_shift_saving_gbp": "savings from moving online", "satisfaction_score": "more satisfied users",
            "completion_rate": "more applications completed"}
SCORE = {"online": 0.775, "assisted_digital": 0.725, "phone": 0.65, "face_to_face": 0.8, "paper": 0.575, "other": 0.625}
COMPLETION = {"online": 0.82, "assisted_digital": 0.9, "phone": 0.93, "face_to_face": 0.97, "paper": 0.88, "other": 0.9}


def _mix(service: Service, take_up: float) -> dict[str, float]:
    """Each channel's share of completed transactions, as `monthly_figures` splits them."""
    offline = [c for c in service.channels if c not in ("online", "assisted_digital")]
    weights = {"online": take_up, "assisted_digital": 0.03 if "assisted_digital" in service.channels else 0}
    rest = max(0.0, 1 - sum(weights.values()))
    base = {"phone": 0.45, "face_to_face": 0.2, "paper": 0.3, "other": 0.05}
    return weights | {c: rest * base[c] / sum(base[o] for o in offline) for c in offline}


def _expected(service: Service, index: int) -> dict[str, float]:
    """What `monthly_figures` makes on average in month `index` (no noise, no season): the register's planners
    know their service, so baselines and targets sit near what the data will show."""
    take_up = service.take_up_start + (service.take_up_end - service.take_up_start) / (
        1 + math.exp(-service.take_up_speed * (index - service.take_up_midpoint)))
    offline_cpt = service.digital_cpt * service.offline_multiple
    unit = {c: service.digital_cpt if c == "online" else offline_cpt * (0.5 if c == "assisted_digital" else 1)
            for c in service.channels}

    def cpt(mix: dict[str, float]) -> float:
        return sum(mix[c] * unit[c] for c in mix)

    now = _mix(service, take_up)
    start = _mix(service, service.take_up_start + (service.take_up_end - service.take_up_start) / (
        1 + math.exp(service.take_up_speed * service.take_up_midpoint)))  # month 0, the baseline
    return {"digital_take_up_rate": take_up, "cost_per_transaction_gbp": cpt(now),
            "satisfaction_score": sum(now[c] * SCORE[c] for c in now),
            "completion_rate": 1 / sum(now[c] / COMPLETION[c] for c in now),
            "monthly_saving_gbp": service.annual_volume / 12 * (cpt(start) - cpt(now))}


def _profile(service: Service, measure: str, last: int) -> list[float]:
    """The expected value of `measure` in months 0..last (savings: cumulative since month 0)."""
    if measure == "channel_shift_saving_gbp":
        return list(np.cumsum([_expected(service, i)["monthly_saving_gbp"] for i in range(last + 1)]))
    return [_expected(service, i)[measure] for i in range(last + 1)]


def write_benefits_register(path: Path, services: list[Service], periods: list[dt.date],
                            rng: np.random.Generator) -> list[Defect]:
    """About a third of the services promise a benefit, with targets more or less ambitious than the data will
    bear; some have a planned trajectory; one covers a group of services and one is a dis-benefit; two rows are
    wrong on purpose (the last two)."""
    header = ["benefit_id", "title", "description", "service_id", "category", "measure", "unit", "baseline_value",
              "baseline_month", "target_value", "target_month", "owner", "senior_responsible_owner",
              "full_year_value_gbp", "confidence", "trajectory"]
    rows = []
    months = _month_starts(periods[0].strftime("%Y-%m"), len(periods) + 6)  # the target: six months after the data
    last = len(months) - 1

    def promise(benefit: str, title: str, group: list[Service], measure: str, unit: str, category: str,
                ambition: float, with_trajectory: bool, owner: str) -> None:
        profile = [sum(values) if measure == "channel_shift_saving_gbp" else sum(values) / len(values)
                   for values in zip(*(_profile(s, measure, last) for s in group))]
        places = 0 if unit == "GBP" and measure == "channel_shift_saving_gbp" else 2 if unit == "GBP" else 3
        baseline = round(profile[0], places)
        change = profile[-1] - profile[0]
        if measure in ("satisfaction_score", "completion_rate"):  # promised to rise, whatever the channel mix does
            change = max(abs(change), 0.02)
        target = round(profile[0] + change * ambition, places)
        trajectory = ""
        if with_trajectory:  # the planned S-curve, a point every six months
            progress = [(value - profile[0]) / (profile[-1] - profile[0]) for value in profile]  # 0 to 1
            trajectory = "; ".join(f"{months[i]:%Y-%m}={round(baseline + (target - baseline) * progress[i], places)}"
                                   for i in range(6, last, 6))
        rows.append([benefit, title, f"Moving users of {', '.join(s.name for s in group)} online",
                     ";".join(s.service_id for s in group), category, measure, unit, baseline,
                     periods[0].isoformat(), target, months[-1].isoformat(), owner,
                     f"Director, {group[0].agency.name}",
                     round(sum(s.annual_volume * s.digital_cpt for s in group) * float(rng.uniform(0.5, 3)), -3),
                     ["high", "medium", "low"][len(rows) % 3], trajectory])

    digital = [s for s in services if s.take_up_end > 0]
    for n, service in enumerate(s for i, s in enumerate(services) if i % 3 == 0 and s.take_up_end > 0):
        measure, unit, category = MEASURES[n % len(MEASURES)]
        promise(f"B{n + 1:03d}", f"{service.name}: {PROMISES[measure]}", [service], measure, unit, category,
                float(rng.uniform(0.8, 1.35)), n % 5 in (0, 2), f"Head of {service.name}")
    group = [s for s in digital if s.agency.id == digital[0].agency.id][:2]
    promise(f"B{len(rows) + 1:03d}", f"{group[0].agency.name}: channel shift across its services", group,
            "channel_shift_saving_gbp", "GBP", "cashable", 1.1, True, f"Digital lead, {group[0].agency.name}")
    dip = digital[1]
    rows.append([f"B{len(rows) + 1:03d}", f"{dip.name}: satisfaction dip while the phone line closes",
                 "Fewer phone users may rate the service lower during the move online", dip.service_id,
                 "dis-benefit", "satisfaction_score", "ratio", round(_expected(dip, 0)["satisfaction_score"], 3),
                 periods[0].isoformat(), round(_expected(dip, 0)["satisfaction_score"] - 0.03, 3),
                 months[-1].isoformat(), f"Head of {dip.name}", f"Director, {dip.agency.name}", "", "medium", ""])
    rows.append([f"B{len(rows) + 1:03d}", "Retired service: fewer calls", "A service that is not in the catalogue",
                 "XXX-404", "cashable", "cost_per_transaction_gbp", "GBP", 30, periods[0].isoformat(), 20,
                 months[-1].isoformat(), "Nobody", "Nobody", 10000, "low", ""])
    rows.append([f"B{len(rows) + 1:03d}", "Backwards target", "Target month before the baseline month",
                 services[0].service_id, "non-cashable", "digital_take_up_rate", "ratio", 0.2, periods[-1].isoformat(),
                 0.5, periods[0].isoformat(), "Someone", "Someone", 0, "medium", ""])
    write_csv(path, header, rows)
    rel = f"{path.parent.name}/{path.name}"
    return [Defect(rel, len(rows) - 1, "unknown_service", "XXX-404"),
            Defect(rel, len(rows), "target_before_baseline", periods[0].isoformat())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/landing"))
    parser.add_argument("--start", default="2023-01")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--services-per-agency", type=int, default=0, help="0 for all")
    args = parser.parse_args()
    defects = generate(args.out, args.start, args.months, args.services_per_agency)
    files = sum(1 for p in args.out.rglob("*") if p.is_file())
    print(f"example data: {files} files under {args.out}/ ({len(defects)} defects seeded on purpose)")


if __name__ == "__main__":
    main()
