"""The example benefits register: one promised benefit per high-volume service, with baselines, targets and
trajectories drawn from the services' own expected figures, and two seeded bad rows."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np

from examples.files import write_csv
from examples.services import Defect, Service, month_starts

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
    months = month_starts(periods[0].strftime("%Y-%m"), len(periods) + 6)  # the target: six months after the data
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
        # and every benefit promises some change, however slowly its service moves (the register refuses a target
        # equal to its baseline)
        elif measure == "cost_per_transaction_gbp":
            change = min(change, -0.02 * profile[0])
        else:
            change = max(change, 0.02 if measure == "digital_take_up_rate" else 1000.0)
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
                float(rng.uniform(0.8, 1.35)), n % 5 in (0, 2), f"Service owner, {service.name}")
    group = [s for s in digital if s.agency.id == digital[0].agency.id][:2]
    promise(f"B{len(rows) + 1:03d}", f"{group[0].agency.name}: channel shift across its services", group,
            "channel_shift_saving_gbp", "GBP", "cashable", 1.1, True, f"Digital lead, {group[0].agency.name}")
    dip = digital[1]
    rows.append([f"B{len(rows) + 1:03d}", f"{dip.name}: satisfaction dip while the phone line closes",
                 "Fewer phone users may rate the service lower during the move online", dip.service_id,
                 "dis-benefit", "satisfaction_score", "ratio", round(_expected(dip, 0)["satisfaction_score"], 3),
                 periods[0].isoformat(), round(_expected(dip, 0)["satisfaction_score"] - 0.03, 3),
                 months[-1].isoformat(), f"Service owner, {dip.name}", f"Director, {dip.agency.name}", "", "medium",
                 ""])
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
