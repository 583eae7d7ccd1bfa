"""Pins which rows each staging rule quarantines and how accepted rows are typed: every source row counted once."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.lib.config import PROJECT_CONFIG_DIR, load_config
from transforms import sql
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.reference import validate_benefits, validate_catalogue
from transforms.staging import FILE, ROW, LayoutError, normalise, validate

APRIL = "2024-04-01"
APR = dt.date(2024, 4, 1)

# As `stg_service_catalogue` is read by pipelines/staging.py: service_id, agency_id, channels_offered (a list)
CATALOGUE = pl.DataFrame({
    "service_id": ["S1", "S2", "S3", "S4"],
    "agency_id": ["AG1", "AG2", "AG1", "AG1"],
    "channels_offered": [["online", "phone", "paper"], ["online"], ["online", "phone"], ["online", "phone", "paper"]],
})


def submitted(columns: list[str], data: list[list[str | None]], source_file: str = "AG1/2024-04/x.csv") -> pl.DataFrame:
    """A table as pipelines.ingestion.read_table gives it: every cell text (None where empty), `_row_number` from 1,
    then `_source_file` added as pipelines/staging.py does."""
    frame = pl.DataFrame(data, schema={c: pl.String for c in columns}, orient="row")
    return frame.with_row_index(ROW, offset=1).with_columns(pl.lit(source_file).alias(FILE))


def wide_layout(return_type: str) -> ReturnLayout:
    """A layout of config/mappings/xlsx_wide.yaml as staging hands it to the transforms."""
    return getattr(load_config(PROJECT_CONFIG_DIR).mappings["xlsx_wide"].returns, return_type)


def failures(quarantined: pl.DataFrame) -> list[tuple]:
    return quarantined.sort("row_number").select("row_number", "rule", "column_name", "offending_value").rows()


def assert_accounted(source: pl.DataFrame, accepted: pl.DataFrame, quarantined: pl.DataFrame) -> None:
    """rows read = rows accepted + rows quarantined, each source row once."""
    read = source.get_column(ROW).n_unique()
    accepted_rows = set(accepted.get_column(ROW).to_list())
    quarantined_rows = quarantined.get_column("row_number").to_list()
    assert len(quarantined_rows) == len(set(quarantined_rows))  # one record per quarantined source row
    assert accepted_rows.isdisjoint(quarantined_rows)
    assert read == len(accepted_rows) + len(quarantined_rows)


# --- transactions ---------------------------------------------------------------------------------------------

TRANSACTION_COLUMNS = ["service_id", "month", "channel", "transactions_started", "transactions_completed"]


@pytest.fixture
def transactions():
    source = submitted(TRANSACTION_COLUMNS, [
        ["S1", APRIL, "online", "120", "100"],           # 1 accepted
        ["S1", "2024-04", "phone", None, "40"],          # 2 accepted: YYYY-MM month, started not provided
        [" S1 ", APRIL, "paper", " 7 ", None],           # 3 accepted: padded cells, completed not provided
        ["S9", APRIL, "online", "1", "1"],               # 4 unknown_service
        ["S2", APRIL, "online", "1", "1"],               # 5 service_of_another_agency
        ["S1", "Spring 2024", "online", "1", "1"],       # 6 period_not_recognised
        ["S1", "2024-05-01", "online", "1", "1"],        # 7 month_outside_return_period
        ["S1", APRIL, "web", "x", "1"],                  # 8 unknown_channel (before not_a_number)
        ["S1", APRIL, "face_to_face", "1", "1"],         # 9 channel_not_offered
        ["S1", APRIL, "online", "ten", "1"],             # 10 not_a_number (started)
        ["S1", APRIL, "online", "20", "12.5"],           # 11 not_a_number (completed, not whole)
        ["S1", APRIL, "online", "-3", "1"],              # 12 negative_count (started)
        ["S1", APRIL, "online", None, "-1"],             # 13 negative_count (completed)
        ["S1", APRIL, "online", "10", "11"],             # 14 completed_above_started
        ["S1", APRIL, None, "1", "1"],                   # 15 required_value_missing (channel)
        ["S3", APRIL, "online", "10", "9"],              # 16 accepted: the first copy
        ["S3", APRIL, "online", "10", "9"],              # 17 duplicate_row: an exact repeat
        ["S3", APRIL, "phone", "5", "5"],                # 18 conflicting_duplicate
        ["S3", "2024-04", "phone", "5", "4"],            # 19 conflicting_duplicate: same key, other figures
    ])
    accepted, quarantined = validate(normalise(source, AS_SENT, "transactions"), "transactions", "AG1", APRIL,
                                     CATALOGUE)
    return source, accepted, quarantined


def test_transactions_quarantine_each_rule_with_row_and_value(transactions):
    _, _, quarantined = transactions
    assert failures(quarantined) == [
        (4, "unknown_service", "service_id", "S9"),
        (5, "service_of_another_agency", "service_id", "S2"),
        (6, "period_not_recognised", "month", "Spring 2024"),
        (7, "month_outside_return_period", "month", "2024-05-01"),
        (8, "unknown_channel", "channel", "web"),
        (9, "channel_not_offered", "channel", "face_to_face"),
        (10, "not_a_number", "transactions_started", "ten"),
        (11, "not_a_number", "transactions_completed", "12.5"),
        (12, "negative_count", "transactions_started", "-3"),
        (13, "negative_count", "transactions_completed", "-1"),
        (14, "completed_above_started", "transactions_completed", "11"),
        (15, "required_value_missing", "channel", ""),
        (17, "duplicate_row", "service_id, grain, period_start, channel", "S3 month 2024-04-01 online"),
        (18, "conflicting_duplicate", "service_id, grain, period_start, channel", "S3 month 2024-04-01 phone"),
        (19, "conflicting_duplicate", "service_id, grain, period_start, channel", "S3 month 2024-04-01 phone"),
    ]
    assert set(quarantined.get_column("source_file")) == {"AG1/2024-04/x.csv"}
    messages = dict(zip(quarantined["row_number"], quarantined["message"]))
    assert messages[4] == "service_id is not in the service catalogue"
    assert messages[7] == "the period does not end in this return's month 2024-04"
    assert messages[17] == "an exact repeat of an earlier row"
    assert messages[18] == "the same key is sent more than once with different figures"


def test_transactions_accepted_rows_are_typed(transactions):
    _, accepted, _ = transactions
    assert accepted.columns == [*TRANSACTION_COLUMNS, "period_start", "period_end", "grain", FILE, ROW]
    assert accepted.schema["month"] == pl.Date
    assert accepted.schema["transactions_started"] == pl.Int64
    assert accepted.schema["transactions_completed"] == pl.Int64
    assert accepted.sort(ROW).select(*TRANSACTION_COLUMNS, ROW).rows() == [
        ("S1", APR, "online", 120, 100, 1),
        ("S1", APR, "phone", None, 40, 2),     # an empty cell: null, "not provided", not 0
        ("S1", APR, "paper", 7, None, 3),      # padding stripped
        ("S3", APR, "online", 10, 9, 16),      # the first copy of an exact repeat is kept
    ]


def test_transactions_rows_are_accounted_for(transactions):
    source, accepted, quarantined = transactions
    assert (source.height, accepted.height, quarantined.height) == (19, 4, 15)
    assert_accounted(source, accepted, quarantined)


def test_whole_numbers_written_as_decimals_or_exponents_are_accepted():
    source = submitted(TRANSACTION_COLUMNS, [["S1", APRIL, "online", "1e3", "250.0"], ["S1", APRIL, "phone", "0", "0"]])
    accepted, quarantined = validate(normalise(source, AS_SENT, "transactions"), "transactions", "AG1", APRIL,
                                     CATALOGUE)
    assert quarantined.height == 0
    # "0" sent is a real zero, distinct from an empty cell
    assert accepted.select("channel", "transactions_started", "transactions_completed").rows() == [
        ("online", 1000, 250), ("phone", 0, 0)]


# --- costs ----------------------------------------------------------------------------------------------------

COST_COLUMNS = ["service_id", "month", "cost_category", "channel", "cost_gbp"]


def test_costs_rules_and_typing():
    source = submitted(COST_COLUMNS, [
        ["S1", APRIL, "staff", "online", "1234.567"],     # 1 accepted, rounded to the penny
        ["S1", APRIL, "overheads", "shared", "500"],      # 2 accepted: 'shared' is not a channel to be offered
        ["S1", APRIL, "travel", "online", "10"],          # 3 unknown_cost_category
        ["S1", APRIL, "it", "online", "-10"],             # 4 negative_cost
        ["S1", APRIL, "accommodation", "online", "abc"],  # 5 not_a_number
        ["S1", APRIL, "other", "online", None],           # 6 required_value_missing (cost_gbp)
        ["S1", APRIL, "it", "face_to_face", "5"],         # 7 channel_not_offered
        ["S1", APRIL, "staff", "online", "1234.567"],     # 8 duplicate_row of 1
        ["S1", APRIL, "staff", "phone", "0"],             # 9 accepted: a zero cost
        ["S1", APRIL, "it", "parcel", "5"],               # 10 unknown_channel
    ])
    accepted, quarantined = validate(normalise(source, AS_SENT, "costs"), "costs", "AG1", APRIL, CATALOGUE)
    assert failures(quarantined) == [
        (3, "unknown_cost_category", "cost_category", "travel"),
        (4, "negative_cost", "cost_gbp", "-10"),
        (5, "not_a_number", "cost_gbp", "abc"),
        (6, "required_value_missing", "cost_gbp", ""),
        (7, "channel_not_offered", "channel", "face_to_face"),
        (8, "duplicate_row", "service_id, grain, period_start, cost_category, channel",
         "S1 month 2024-04-01 staff online"),
        (10, "unknown_channel", "channel", "parcel"),
    ]
    assert accepted.schema["cost_gbp"] == pl.Float64
    assert accepted.sort(ROW).select(*COST_COLUMNS, ROW).rows() == [
        ("S1", APR, "staff", "online", 1234.57, 1),
        ("S1", APR, "overheads", "shared", 500.0, 2),
        ("S1", APR, "staff", "phone", 0.0, 9),
    ]
    assert_accounted(source, accepted, quarantined)
    assert (accepted.height, quarantined.height) == (3, 7)


# --- satisfaction ---------------------------------------------------------------------------------------------

SATISFACTION_COLUMNS = ["service_id", "month", "channel", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5"]


def test_satisfaction_rules_and_typing():
    source = submitted(SATISFACTION_COLUMNS, [
        ["S1", APRIL, "online", "1", "2", "3", "4", "10"],    # 1 accepted
        ["S1", APRIL, "paper", "1", "2", "x", "4", "10"],     # 2 not_a_number
        ["S1", APRIL, "paper", "1", "2", "3", "4", "-2"],     # 3 negative_count
        ["S1", APRIL, "phone", "0", "0", "0", "0", "1"],      # 4 conflicting_duplicate
        ["S1", APRIL, "phone", "0", "0", "0", "1", "0"],      # 5 conflicting_duplicate
        ["S3", APRIL, "phone", "0", "0", "0", "0", "0"],      # 6 accepted: surveyed, no responses
    ])
    accepted, quarantined = validate(normalise(source, AS_SENT, "satisfaction"), "satisfaction", "AG1", APRIL,
                                     CATALOGUE)
    assert failures(quarantined) == [
        (2, "not_a_number", "rating_3", "x"),
        (3, "negative_count", "rating_5", "-2"),
        (4, "conflicting_duplicate", "service_id, grain, period_start, channel", "S1 month 2024-04-01 phone"),
        (5, "conflicting_duplicate", "service_id, grain, period_start, channel", "S1 month 2024-04-01 phone"),
    ]
    assert [accepted.schema[f"rating_{i}"] for i in range(1, 6)] == [pl.Int64] * 5
    assert accepted.sort(ROW).select(*SATISFACTION_COLUMNS).rows() == [
        ("S1", APR, "online", 1, 2, 3, 4, 10),
        ("S3", APR, "phone", 0, 0, 0, 0, 0),
    ]
    assert_accounted(source, accepted, quarantined)


def test_satisfaction_empty_rating_is_quarantined_not_staged():
    """stg_satisfaction declares every rating NOT NULL and REQUIRED lists them: an empty rating cell cannot be
    staged, so it must be quarantined rather than accepted (accepting it makes the staging insert fail)."""
    source = submitted(SATISFACTION_COLUMNS, [["S1", APRIL, "online", "1", "2", None, "4", "10"]])
    accepted, quarantined = validate(normalise(source, AS_SENT, "satisfaction"), "satisfaction", "AG1", APRIL,
                                     CATALOGUE)
    assert failures(quarantined) == [(1, "required_value_missing", "rating_3", "")]
    assert accepted.height == 0


def test_accepted_rows_fit_the_staged_tables():
    con = duckdb.connect()
    con.execute(sql("schema"))
    source = submitted(TRANSACTION_COLUMNS, [["S1", APRIL, "online", None, "100"]])
    accepted, _ = validate(normalise(source, AS_SENT, "transactions"), "transactions", "AG1", APRIL, CATALOGUE)
    staged = accepted.rename({FILE: "source_file", ROW: "source_row"}).with_columns(agency_id=pl.lit("AG1"))
    con.register("accepted_frame", staged)
    con.execute("INSERT INTO stg_transactions BY NAME SELECT * FROM accepted_frame")
    assert con.execute("SELECT service_id, month, channel, transactions_started, transactions_completed, source_row "
                       "FROM stg_transactions").fetchall() == [("S1", APR, "online", None, 100, 1)]


# --- the wide XLSX layout (config/mappings/xlsx_wide.yaml) ---------------------------------------------------

WIDE_TRANSACTIONS = ["Service code", "Period", "Online", "Telephone", "Face to face", "Post", "Assisted digital",
                     "Other", "Total completed"]
MARCH = "2024-03-01"
MAR = dt.date(2024, 3, 1)


@pytest.fixture
def wide():
    source = submitted(WIDE_TRANSACTIONS, [
        ["S1", "Mar 2024", "100", "50", "N/A", "5", "N/A", "N/A", "155"],    # 1 accepted: three channels
        ["S3", "Mar 2024", "30", "-", "N/A", "N/A", "N/A", "N/A", "99"],     # 2 accepted: phone "-" not provided
        ["S1", "Mar 2024", "20", "50", "N/A", "5", "N/A", "N/A", "70"],      # 3 channels_do_not_sum_to_total
        ["S1", "Mar 2024", "100", "0", "N/A", "0", "N/A", "N/A", "90"],      # 4 digital_above_total
        ["S1", "Mar 2024", "1", "1", "N/A", "1", "N/A", "N/A", "lots"],      # 5 not_a_number (total)
        ["S1", "Mar 2024", "1", "1", "2", "1", "N/A", "N/A", "5"],           # 6 channel_not_offered (face to face)
        ["S4", "2024-03", "1", "1", "N/A", None, "N/A", "N/A", "2"],         # 7 accepted: canonical month kept
    ], source_file="AG1/2024-03/monthly_return.xlsx")
    normalised = normalise(source, wide_layout("transactions"), "transactions")
    accepted, quarantined = validate(normalised, "transactions", "AG1", MARCH, CATALOGUE)
    return source, normalised, accepted, quarantined


def test_wide_layout_normalises_to_long_canonical_rows(wide):
    _, normalised, _, _ = wide
    assert normalised.columns == [*TRANSACTION_COLUMNS, "_row_shape", "period_start", "period_end", "grain",
                                  "_reported_total", "reported_transactions_completed", FILE, ROW]
    row_1 = normalised.filter(pl.col(ROW) == 1).sort("channel")
    # N/A channels dropped; month "Mar 2024" parsed; started absent from the layout: null
    # the reported total is also kept for the whole service, channel 'all'
    assert row_1.select("service_id", "month", "channel", "transactions_started", "transactions_completed",
                        "_reported_total").rows() == [
        ("S1", MARCH, "all", None, None, "155"),
        ("S1", MARCH, "online", None, "100", "155"),
        ("S1", MARCH, "paper", None, "5", "155"),
        ("S1", MARCH, "phone", None, "50", "155"),
    ]
    row_2 = normalised.filter(pl.col(ROW) == 2).sort("channel")
    assert row_2.select("channel", "transactions_completed").rows() == [("all", None), ("online", "30"),
                                                                          ("phone", None)]


def test_wide_layout_quarantines_totals_and_channels(wide):
    _, _, _, quarantined = wide
    assert failures(quarantined) == [
        (3, "channels_do_not_sum_to_total", "_reported_total", "70"),  # 20 + 50 + 5 = 75, not 70
        (4, "digital_above_total", "transactions_completed", "100"),   # online 100 > total 90
        (5, "not_a_number", "_reported_total", "lots"),
        (6, "channel_not_offered", "channel", "face_to_face"),
    ]
    assert set(quarantined.get_column("source_file")) == {"AG1/2024-03/monthly_return.xlsx"}


def test_wide_layout_accepted_rows(wide):
    source, _, accepted, quarantined = wide
    # the reported total is checked, and kept as reported for the whole service (channel 'all')
    assert accepted.columns == [*TRANSACTION_COLUMNS, "period_start", "period_end", "grain",
                                "reported_transactions_completed", FILE, ROW]
    assert accepted.sort(ROW, "channel").select(ROW, "service_id", "month", "channel", "transactions_completed",
                                                "reported_transactions_completed").rows() == [
        (1, "S1", MAR, "all", None, 155),
        (1, "S1", MAR, "online", 100, None),
        (1, "S1", MAR, "paper", 5, None),
        (1, "S1", MAR, "phone", 50, None),
        (2, "S3", MAR, "all", None, 99),
        (2, "S3", MAR, "online", 30, None),
        (2, "S3", MAR, "phone", None, None),   # "-": not provided, so the total is not checked
        (7, "S4", MAR, "all", None, 2),
        (7, "S4", MAR, "online", 1, None),
        (7, "S4", MAR, "paper", None, None),   # an empty cell: not provided
        (7, "S4", MAR, "phone", 1, None),
    ]
    assert accepted.get_column("transactions_started").null_count() == accepted.height
    assert_accounted(source, accepted, quarantined)
    assert (source.height, accepted.get_column(ROW).n_unique(), quarantined.height) == (7, 3, 4)


def test_wide_costs_layout_labels_and_thousands():
    source = submitted(["Service code", "Period", "Cost type", "Channel", "Amount (GBP thousands)"], [
        ["S1", "Mar 2024", "Staff", "Online", "1.5"],          # 1 accepted: 1.5 x 1,000 = 1,500
        ["S1", "Mar 2024", "Overheads", "Shared", "0.2345"],   # 2 accepted: 234.5
        ["S1", "Mar 2024", "Travel", "Telephone", "2"],        # 3 unknown_cost_category (label not mapped)
        ["S1", "Mar 2024", "IT", "Telephone", "-0.1"],         # 4 negative_cost, after scaling
        ["S1", "Mar 2024", "IT", "Post", "n/k"],               # 5 not_a_number, left as sent
    ])
    normalised = normalise(source, wide_layout("costs"), "costs")
    accepted, quarantined = validate(normalised, "costs", "AG1", MARCH, CATALOGUE)
    assert failures(quarantined) == [
        (3, "unknown_cost_category", "cost_category", "Travel"),
        (4, "negative_cost", "cost_gbp", "-100.0"),
        (5, "not_a_number", "cost_gbp", "n/k"),
    ]
    assert accepted.sort(ROW).select(*COST_COLUMNS).rows() == [
        ("S1", MAR, "staff", "online", 1500.0),
        ("S1", MAR, "overheads", "shared", 234.5),
    ]
    assert_accounted(source, accepted, quarantined)


def test_wide_layout_missing_column_is_a_layout_error():
    source = submitted([c for c in WIDE_TRANSACTIONS if c != "Post"],
                       [["S1", "Mar 2024", "1", "1", "N/A", "N/A", "N/A", "2"]])
    with pytest.raises(LayoutError, match="missing required column\\(s\\): Post"):
        normalise(source, wide_layout("transactions"), "transactions")


def test_canonical_layout_missing_required_column_is_a_layout_error():
    source = submitted(["service_id", "month", "channel"], [["S1", APRIL, "online"]])
    with pytest.raises(LayoutError, match="missing required column\\(s\\): transactions_completed"):
        normalise(source, AS_SENT, "transactions")


# --- service catalogue ----------------------------------------------------------------------------------------

CATALOGUE_COLUMNS = ["service_id", "service_name", "agency_id", "department", "category", "customer_type",
                     "channels_offered", "high_volume"]


def test_catalogue_rules_and_typing():
    source = submitted(CATALOGUE_COLUMNS, [
        ["S1", "Renew a licence", "AG1", "Dept A", "licensing", "citizen", "online; phone", "TRUE"],  # 1 accepted
        ["S2", "Register", "AG9", "Dept A", "licensing", "citizen", "online", "false"],          # 2 unknown_agency
        ["S3", "Apply", "AG1", "Dept A", "licensing", "citizen", "online;fax", "false"],        # 3 unknown_channel
        ["S4", "Apply", "AG1", "Dept A", "licensing", "Charity", "online", "false"],     # 4 accepted: free text
        ["S5", "Apply", "AG1", "Dept A", "licensing", "business", "online", "yes"],      # 5 not_a_boolean
        ["S1", "Renew a licence", "AG1", "Dept A", "licensing", "citizen", "online", "true"],   # 6 duplicate_key
        ["S6", None, "AG2", "Dept B", "tax", "business", "paper", "false"],      # 7 required_value_missing
        ["S7", "Pay", "AG2", "Dept B", "tax", "business", "paper", "False"],     # 8 accepted
        ["S8", "Ask", "AG2", "Dept B", None, None, None, None],                  # 9 accepted: not known
    ], source_file="catalogue/service_catalogue.csv")
    accepted, quarantined = validate_catalogue(source, ["AG1", "AG2"])
    assert failures(quarantined) == [
        (2, "unknown_agency", "agency_id", "AG9"),
        (3, "unknown_channel", "channels_offered", "online;fax"),
        (5, "not_a_boolean", "high_volume", "yes"),
        (6, "duplicate_key", "service_id", "S1"),
        (7, "required_value_missing", "service_name", ""),
    ]
    assert accepted.columns == [*CATALOGUE_COLUMNS, "live_from"]  # optional, null when not sent
    assert accepted.schema["channels_offered"] == pl.List(pl.String)
    assert accepted.schema["high_volume"] == pl.Boolean
    assert accepted.rows() == [
        ("S1", "Renew a licence", "AG1", "Dept A", "licensing", "citizen", ["online", "phone"], True, None),
        ("S4", "Apply", "AG1", "Dept A", "licensing", "Charity", ["online"], False, None),
        ("S7", "Pay", "AG2", "Dept B", "tax", "business", ["paper"], False, None),
        ("S8", "Ask", "AG2", "Dept B", None, None, None, None, None),
    ]
    assert source.height == accepted.height + quarantined.height


# --- benefits register ----------------------------------------------------------------------------------------

BENEFIT_COLUMNS = ["benefit_id", "title", "description", "service_id", "category", "measure", "unit",
                   "baseline_value", "baseline_month", "target_value", "target_month", "owner",
                   "senior_responsible_owner", "full_year_value_gbp", "confidence"]


def benefit(benefit_id: str, **changes) -> list[str | None]:
    row = {"benefit_id": benefit_id, "title": "More online", "description": None, "service_id": "S1",
           "category": "cashable", "measure": "digital_take_up_rate", "unit": "share", "baseline_value": "0.4",
           "baseline_month": "2024-04-01", "target_value": "0.6", "target_month": "2025-04", "owner": "Ops lead",
           "senior_responsible_owner": "Director", "full_year_value_gbp": None, "confidence": "medium"}
    return list({**row, **changes}.values())


def test_benefits_rules_and_typing():
    source = submitted(BENEFIT_COLUMNS, [
        benefit("B1"),                                                           # 1 accepted
        benefit("B2", service_id="S9"),                                          # 2 unknown_service
        benefit("B3", category="savings"),                                       # 3 unknown_category
        benefit("B4", measure="happiness"),                                      # 4 unknown_measure
        benefit("B5", baseline_value="n/a"),                                     # 5 not_a_number
        benefit("B6", full_year_value_gbp="£10k"),                               # 6 not_a_number
        benefit("B7", target_month="2024-13"),                                   # 7 month_not_a_date
        benefit("B8", target_month="2024-01-01"),                                # 8 target_before_baseline
        benefit("B9", target_month="2024-04"),                                   # 9 target_before_baseline (same)
        benefit("B10", confidence="certain"),                                    # 10 unknown_confidence
        benefit("B1", title="Again"),                                            # 11 duplicate_key
        benefit("B11", owner=None),                                              # 12 required_value_missing
        benefit("B12", category="dis-benefit", measure="cost_per_transaction_gbp", unit="GBP",
                baseline_value="5.50", target_value="4", full_year_value_gbp="125000.50",
                description="Fewer calls", service_id="S2"),                     # 13 accepted
    ], source_file="reference/benefits_register.csv")
    accepted, quarantined = validate_benefits(source, ["S1", "S2"])
    assert failures(quarantined) == [
        (2, "unknown_service", "service_id", "S9"),
        (3, "unknown_category", "category", "savings"),
        (4, "unknown_measure", "measure", "happiness"),
        (5, "not_a_number", "baseline_value", "n/a"),
        (6, "not_a_number", "full_year_value_gbp", "£10k"),
        (7, "month_not_a_date", "target_month", "2024-13"),
        (8, "target_before_baseline", "target_month", "2024-01-01"),
        (9, "target_before_baseline", "target_month", "2024-04"),
        (10, "unknown_confidence", "confidence", "certain"),
        (11, "duplicate_key", "benefit_id", "B1"),
        (12, "required_value_missing", "owner", ""),
    ]
    assert accepted.columns == BENEFIT_COLUMNS
    assert [accepted.schema[c] for c in ("baseline_value", "target_value", "full_year_value_gbp")] == [pl.Float64] * 3
    assert [accepted.schema[c] for c in ("baseline_month", "target_month")] == [pl.Date] * 2
    assert accepted.rows() == [
        ("B1", "More online", None, "S1", "cashable", "digital_take_up_rate", "share", 0.4, APR, 0.6,
         dt.date(2025, 4, 1), "Ops lead", "Director", None, "medium"),
        ("B12", "More online", "Fewer calls", "S2", "dis-benefit", "cost_per_transaction_gbp", "GBP", 5.5, APR, 4.0,
         dt.date(2025, 4, 1), "Ops lead", "Director", 125000.5, "medium"),
    ]
    assert source.height == accepted.height + quarantined.height
