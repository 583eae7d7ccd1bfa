"""The example agencies' services and their monthly figures: S-curves of digital take-up, unit costs by channel,
seasonal peaks and rating counts, all from one seeded random generator."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from pipelines.lib.config import Agency
from transforms.domain import CHANNELS, add_months

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



def month_starts(start: str, months: int) -> list[dt.date]:
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


def build_services(agencies: list[Agency], rng: np.random.Generator, per_agency: int,
                   kinds: dict[str, tuple] = SERVICES) -> list[Service]:
    """`kinds`: per agency id, as SERVICES (the example agencies' own)."""
    services = []
    for agency in agencies:
        prefix, category, peak, names = kinds[agency.id]
        for n, name in enumerate(names[:per_agency] if per_agency else names, start=1):
            digital = name not in NO_DIGITAL
            channels = ["online", "assisted_digital"] if digital else []
            channels += [c for c, p in (("phone", 0.8), ("face_to_face", 0.35), ("paper", 0.7), ("other", 0.15))
                         if rng.random() < p]
            if not digital and "paper" not in channels:
                channels.append("paper")
            volume = float(np.exp(rng.normal(11.5, 1.3)))  # median ~100k a year, a long tail of big services
            if n == 1:
                volume *= 5  # each agency's first service is its flagship
            start = float(rng.uniform(0.15, 0.55)) if digital else 0.0
            services.append(Service(
                service_id=f"{prefix}-{n:03d}", name=name, agency=agency, category=category, peak_month=peak,
                channels=tuple(c for c in CHANNELS if c in channels), annual_volume=volume,
                # take-up rises by 5 to 20 points over the years shown, as services' take-up moves in practice
                take_up_start=start, take_up_end=min(0.97, start + float(rng.uniform(0.05, 0.2))) if digital else 0.0,
                take_up_midpoint=float(rng.uniform(6, 30)), take_up_speed=float(rng.uniform(0.12, 0.5)),
                # an offline transaction costs 1.5 to 4 times a digital one here, so that moving online saves a share
                # of the cost, never most of it (tests/test_benefits.py bounds it)
                digital_cpt=float(rng.uniform(1.5, 9.0)), offline_multiple=float(rng.uniform(1.5, 4.0)),
            ))
    return services


def monthly_figures(service: Service, month: dt.date, index: int, rng: np.random.Generator):
    """One month of one service: per-channel (started, completed), costs and rating counts."""
    peak = 1.4 if service.category == "tax" else 0.35
    season = 1 + peak * math.exp(-((month.month - service.peak_month) % 12) ** 2 / 2)
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
        split = ({"staff": 0.25, "it": 0.65, "third_party": 0.10} if c == "online"
                 else {"staff": 0.8, "third_party": 0.2})
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
