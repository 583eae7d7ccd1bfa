"""How the ministers' summary names periods and writes numbers: the only place its figures become text
(halves rounded up, as the dashboards round; no sign on a zero; money in one scale per column)."""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from transforms.domain import add_months
from transforms.periods import period_name

MINUS = "\u2212"
STATUS_ORDER = {"red": 0, "amber": 1, "no data": 2, "green": 3}
RATE_MEASURES = ("digital_take_up_rate", "completion_rate", "satisfaction_score", "satisfied_share")
MONEY_TOTAL_MEASURES = ("channel_shift_saving_gbp",)
MEASURE_NAMES = {"digital_take_up_rate": "digital take-up", "cost_per_transaction_gbp": "cost per transaction",
                 "channel_shift_saving_gbp": "channel-shift saving to date",
                 "completion_rate": "completion rate", "satisfaction_score": "satisfaction score",
                 "satisfied_share": "share satisfied"}
FY_QUARTER_MONTHS = (6, 9, 12, 3)  # the last month of each financial quarter
# The methods and caveats section, the same in both formats (the RAG thresholds are benefits_realisation.sql's).


@dataclass(frozen=True)
class Period:
    kind: str   # month | quarter
    start: dt.date
    end: dt.date  # the first day of the period's last month

    @property
    def name(self) -> str:
        """December 2025, or Q3 2025-26 (Oct-Dec 2025): the name the tables and pages give it (periods.period_name)."""
        return period_name(self.kind, self.start, self.end)

    @property
    def stem(self) -> str:
        """The file name's stem: benefits-summary-2025-12, or benefits-summary-2025-26-Q3."""
        if self.kind == "month":
            return f"benefits-summary-{self.start:%Y-%m}"
        year = self.start.year - (self.start.month < 4)
        return f"benefits-summary-{year}-{(year + 1) % 100:02d}-Q{(self.start.month + 8) % 12 // 3 + 1}"

    @property
    def previous_name(self) -> str:
        months = 1 if self.kind == "month" else 3
        start = add_months(self.start, -months)
        return Period(self.kind, start, add_months(start, months - 1)).name


def periods_ending_in(months: list[dt.date]) -> list[Period]:
    """Each month, and each financial quarter whose last month is among them."""
    periods = []
    for month in months:
        periods.append(Period("month", month, month))
        if month.month in FY_QUARTER_MONTHS:
            periods.append(Period("quarter", add_months(month, -2), month))
    return periods


def fixed(number: float, places: int) -> str:
    """`number` with `places` decimals and thousands separators, halves rounded up (58.25 reads 58.3), as the
    dashboards round; Python's own format would round half to even."""
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{places}f}"


def _sign(value: float, digits: str, plus: bool) -> str:
    """The sign of a formatted amount: none when it rounds to zero (never -0)."""
    if not digits.strip("0.,"):
        return ""
    return MINUS if value < 0 else ("+" if plus else "")


def gbp(value: float | None, pence: bool = False, sign: bool = False) -> str:
    if value is None:
        return "no data"
    amount = abs(value)
    if pence:
        digits, suffix = fixed(amount, 2), ""
    elif amount >= 1e9:
        digits, suffix = fixed(amount / 1e9, 2), "bn"
    elif amount >= 1e6:
        digits, suffix = fixed(amount / 1e6, 1), "m"
    else:
        digits, suffix = fixed(amount, 0), ""
    return f"{_sign(value, digits, sign)}£{digits}{suffix}"


def gbp_millions(value: float | None) -> str:
    """Money in £ million with two decimals whatever its size, so that a column of totals has one scale."""
    if value is None:
        return "no data"
    digits = fixed(abs(value) / 1e6, 2)
    return f"{_sign(value, digits, False)}£{digits}m"


def percent(share: float | None) -> str:
    if share is None:
        return "no data"
    digits = fixed(abs(share) * 100, 1)
    return f"{_sign(share, digits, False)}{digits}%"


def points(change: float) -> str:
    """A change in a share, in percentage points."""
    digits = fixed(abs(change) * 100, 1)
    return f"{_sign(change, digits, True)}{digits} pp"


def count_change(change: float) -> str:
    return "no change" if change == 0 else f"{MINUS if change < 0 else '+'}{abs(change):.0f}"


def measure_value(measure: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if measure in RATE_MEASURES:
        return percent(value)
    return gbp(value, pence=measure == "cost_per_transaction_gbp")


def table_value(measure: str, value: float | None) -> str:
    """A benefit's value in the benefits table: money to date always in £ million (one scale per column)."""
    return gbp_millions(value) if measure in MONEY_TOTAL_MEASURES else measure_value(measure, value)


# --- forecasts and status in words -------------------------------------------------------------------------------
