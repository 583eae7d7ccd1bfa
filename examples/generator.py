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
import datetime as dt
import os
from pathlib import Path

import numpy as np

from examples.benefits import write_benefits_register
from examples.files import write_csv, write_json, write_xlsx
from examples.services import Defect, build_services, month_starts, monthly_figures
from pipelines.lib.config import PROJECT_CONFIG_DIR, Agency, load_config
from transforms.domain import CHANNELS

XLSX_CHANNEL = {"online": "Online", "phone": "Telephone", "face_to_face": "Face to face", "paper": "Post",
                "assisted_digital": "Assisted digital", "other": "Other", "shared": "Shared"}
XLSX_CATEGORY = {"staff": "Staff", "it": "IT", "accommodation": "Accommodation", "overheads": "Overheads",
                 "third_party": "Third party", "other": "Other"}

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
            {"serviceId": s, "period": m, "costCategory": cat, "channel": ch, "amountGbp": v}
            for s, m, cat, ch, v in costs])
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
    periods = month_starts(start, months)
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
    following = month_starts(month.strftime("%Y-%m"), 2)[1]
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
