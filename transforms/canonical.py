"""The canonical layout of the monthly returns, shared by normalising (`transforms/normalising.py`), the row rules
(`transforms/row_rules.py`) and validation (`transforms/staging.py`): column names, what is required, keys, counts,
and the working columns a frame carries through staging."""

from __future__ import annotations

ROW = "_row_number"  # the data row in its file, 1 = the first row under the header
FILE = "_source_file"
TOTAL = "_reported_total"  # a total reported beside wide channel columns, checked then dropped
SHAPE = "_row_shape"  # set by the reader when a CSV row has the wrong number of fields
# Whose return a row is, per row, so that one pass validates the returns of many agencies and months at once.
AGENCY = "_agency_id"
RETURN_MONTH = "_return_month"  # the month of the return's folder, YYYY-MM-01
FIRST_MONTH = "_first_month"  # the agency's first month, YYYY-MM-01: no period before it is accepted
CONTEXT = (AGENCY, RETURN_MONTH, FIRST_MONTH)
NUMERIC = ("transactions_started", "transactions_completed", "cost_gbp", "rating_1", "rating_2", "rating_3",
           "rating_4", "rating_5", TOTAL)

COLUMNS = {
    "transactions": ["service_id", "month", "channel", "transactions_started", "transactions_completed"],
    "costs": ["service_id", "month", "cost_category", "channel", "cost_gbp"],
    "satisfaction": ["service_id", "month", "channel", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5"],
}
REQUIRED = {
    "transactions": ["service_id", "month", "channel", "transactions_completed"],
    "costs": ["service_id", "month", "cost_category", "channel", "cost_gbp"],
    "satisfaction": COLUMNS["satisfaction"],
}
KEYS = {  # a return may hold figures for several periods ending in its month (say a quarter and a month)
    "transactions": ["service_id", "grain", "period_start", "channel"],
    "costs": ["service_id", "grain", "period_start", "cost_category", "channel"],
    "satisfaction": ["service_id", "grain", "period_start", "channel"],
}
PERIOD = ["period_start", "period_end", "grain"]
COUNTS = {
    "transactions": ["transactions_started", "transactions_completed"],
    "costs": [],
    "satisfaction": ["rating_1", "rating_2", "rating_3", "rating_4", "rating_5"],
}


class LayoutError(ValueError):
    """The file as a whole does not fit its declared layout (the whole file is quarantined, under `rule`)."""

    def __init__(self, message: str, rule: str = "unreadable_file"):
        super().__init__(message)
        self.rule = rule
