"""Pins each KPI formula in transforms/sql to hand-computed values, so a SQL change cannot move a figure silently."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from pipelines.lib.tables import build_months, build_table
from pipelines.lib.warehouse import bootstrap
from transforms.catalogue import CATALOGUE

FACTS = ("fct_service_month_channel", "fct_service_month")
KPIS = ("kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction")
Z = 1.959964  # the 95% normal quantile the SQL uses


def month(year: int, number: int) -> dt.date:
    return dt.date(year, number, 1)


APR, MAY = month(2024, 4), month(2024, 5)


def build_warehouse(catalogue, transactions=(), costs=(), satisfaction=(), start=APR, end=MAY, runs=None):
    """An in-memory warehouse with its schema, the given staged rows, then the facts for each run and every KPI mart,
    built by the functions the assets call (pipelines/lib/tables.py).

    catalogue:    (service_id, [channels offered])
    transactions: (service_id, month, channel, started, completed)   None = not provided
    costs:        (service_id, month, cost_category, channel, cost_gbp)
    satisfaction: (service_id, month, channel, rating_1, ..., rating_5)
    runs:         the fact runs' [start, end) windows; default one run over [start, end)
    """
    con = duckdb.connect()
    bootstrap(con)
    con.executemany(
        "INSERT INTO stg_service_catalogue VALUES ($service_id, $name, 'AG1', 'Dept', 'licensing', 'citizen', "
        "$channels, false, NULL)",
        [{"service_id": s, "name": f"Service {s}", "channels": list(ch)} for s, ch in catalogue])
    monthly = ("INSERT INTO {table} BY NAME SELECT *, month AS period_start, last_day(month) AS period_end, "
               "'month' AS grain, 'AG1' AS agency_id, '{table}.csv' AS source_file FROM (SELECT {columns})")
    for table, rows, columns in (
            ("stg_transactions", transactions, "service_id, month, channel, transactions_started, "
                                               "transactions_completed"),
            ("stg_costs", costs, "service_id, month, cost_category, channel, cost_gbp"),
            ("stg_satisfaction", satisfaction, "service_id, month, channel, rating_1, rating_2, rating_3, "
                                               "rating_4, rating_5")):
        names = [c.strip() for c in columns.split(",")]
        types = {"month": "DATE", "service_id": "VARCHAR", "channel": "VARCHAR", "cost_category": "VARCHAR",
                 "cost_gbp": "DOUBLE"}
        typed = ", ".join(f"?::{types.get(c, 'BIGINT')} AS {c}" for c in names)
        if rows:
            con.executemany(monthly.format(table=table, columns=typed + ", ? AS source_row"),
                            [[*row, i] for i, row in enumerate(rows, 1)])
    for run_start, run_end in runs or [(start, end)]:
        for table in FACTS:
            build_months(con, CATALOGUE[table], run_start, run_end)
    for table in KPIS:
        build_table(con, CATALOGUE[table])
    return con


def rows(con, query: str, params=None) -> list[dict]:
    cursor = con.execute(query, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def one(con, table: str, **key) -> dict:
    """The single row of `table` with the given column values."""
    where = " AND ".join(f"{k} = ${k}" for k in key)
    found = rows(con, f"SELECT * FROM {table} WHERE {where}", key)
    assert len(found) == 1, (table, key, found)
    return found[0]


def wilson(successes: int, n: int) -> tuple[float, float]:
    p = successes / n
    centre = p + Z**2 / (2 * n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return (centre - half) / (1 + Z**2 / n), (centre + half) / (1 + Z**2 / n)


# --- cost per transaction -------------------------------------------------------------------------------------


@pytest.fixture
def apportioned():
    return build_warehouse(
        catalogue=[("S1", ["online", "phone"])],
        transactions=[("S1", APR, "online", 900, 800), ("S1", APR, "phone", 250, 200)],
        costs=[("S1", APR, "staff", "online", 1000.0), ("S1", APR, "it", "online", 600.0),
               ("S1", APR, "staff", "phone", 4000.0), ("S1", APR, "overheads", "shared", 1000.0)])


def test_fact_channel_costs_apportion_shared_by_completed_share(apportioned):
    online = one(apportioned, "fct_service_month_channel", service_id="S1", month=APR, channel="online")
    phone = one(apportioned, "fct_service_month_channel", service_id="S1", month=APR, channel="phone")
    # online: direct 1,000 + 600 = 1,600; shared 1,000 x 800 / (800 + 200) = 800; total 2,400
    assert (online["cost_direct_gbp"], online["cost_shared_apportioned_gbp"], online["cost_gbp"]) == (1600, 800, 2400)
    assert online["channel_type"] == "digital"
    # phone: direct 4,000; shared 1,000 x 200 / 1,000 = 200; total 4,200
    assert (phone["cost_direct_gbp"], phone["cost_shared_apportioned_gbp"], phone["cost_gbp"]) == (4000, 200, 4200)
    assert phone["channel_type"] == "non_digital"
    service = one(apportioned, "fct_service_month", service_id="S1", month=APR)
    # 1,600 + 4,000 + 1,000 = 6,600, of which shared 1,000; started 900 + 250; completed 800 + 200
    assert service == {"service_id": "S1", "agency_id": "AG1", "month": APR, "transactions_started": 1150,
                       "transactions_completed": 1000, "cost_gbp": 6600, "cost_shared_gbp": 1000,
                       "channels_not_provided": None}


def test_cost_per_transaction_per_channel_and_all(apportioned):
    got = {r["channel"]: r for r in rows(apportioned, "SELECT * FROM kpi_cost_per_transaction")}
    assert sorted(got) == ["all", "online", "phone"]
    # online 2,400 / 800 = 3.00; phone 4,200 / 200 = 21.00; all 6,600 / 1,000 = 6.60
    assert got["online"]["cost_per_transaction_gbp"] == pytest.approx(3.00)
    assert got["phone"]["cost_per_transaction_gbp"] == pytest.approx(21.00)
    assert got["all"]["cost_per_transaction_gbp"] == pytest.approx(6.60)
    assert (got["all"]["cost_gbp"], got["all"]["transactions_completed"]) == (6600, 1000)
    assert [got[c]["missing_inputs"] for c in ("all", "online", "phone")] == [None, None, None]
    # fewer than 12 months: no rolling figure
    assert [got[c]["rolling_12m_cost_per_transaction_gbp"] for c in ("all", "online", "phone")] == [None] * 3


def test_apportioned_shared_cost_is_rounded_to_the_penny_per_channel():
    con = build_warehouse(
        catalogue=[("S1", ["online", "phone", "paper"])],
        transactions=[("S1", APR, c, None, 1) for c in ("online", "phone", "paper")],
        costs=[("S1", APR, "overheads", "shared", 100.0)])
    got = rows(con, "SELECT channel, cost_shared_apportioned_gbp, cost_gbp FROM fct_service_month_channel "
                    "ORDER BY channel")
    # 100 x 1/3 = 33.333... rounded to the penny on each channel; no direct costs so cost = apportioned
    assert got == [{"channel": c, "cost_shared_apportioned_gbp": 33.33, "cost_gbp": 33.33}
                   for c in ("online", "paper", "phone")]
    assert one(con, "kpi_cost_per_transaction", channel="all")["cost_per_transaction_gbp"] == pytest.approx(100 / 3,
                                                                                                           abs=1e-4)


def test_zero_completed_transactions_give_null_cost_per_transaction():
    con = build_warehouse(
        catalogue=[("S2", ["online"])],
        transactions=[("S2", APR, "online", 0, 0)],
        costs=[("S2", APR, "staff", "online", 500.0)])
    for channel in ("online", "all"):
        got = one(con, "kpi_cost_per_transaction", service_id="S2", month=APR, channel=channel)
        # 500 / 0: not an error and not 0, but no figure; both inputs were provided
        assert (got["cost_gbp"], got["transactions_completed"]) == (500, 0)
        assert got["cost_per_transaction_gbp"] is None
        assert got["missing_inputs"] is None
    # 0 / 0 started: no completion rate; 0 / 0 completed: no take-up
    assert one(con, "kpi_completion_rate", channel="all")["completion_rate"] is None
    assert one(con, "kpi_digital_take_up", service_id="S2")["digital_take_up_rate"] is None


# --- not provided, zero, not applicable ----------------------------------------------------------------------


@pytest.fixture
def phone_missing():
    # S3 offers phone but sent no phone row; S3B the same, plus a shared cost that then cannot be apportioned
    return build_warehouse(
        catalogue=[("S3", ["online", "phone"]), ("S3B", ["online", "phone"])],
        transactions=[("S3", APR, "online", 400, 300), ("S3B", APR, "online", 400, 300)],
        costs=[("S3", APR, "staff", "online", 900.0), ("S3", APR, "staff", "phone", 600.0),
               ("S3B", APR, "staff", "online", 900.0), ("S3B", APR, "overheads", "shared", 100.0)])


def test_missing_channel_is_null_in_facts(phone_missing):
    phone = one(phone_missing, "fct_service_month_channel", service_id="S3", channel="phone")
    assert (phone["transactions_started"], phone["transactions_completed"]) == (None, None)
    # no shared cost, so nothing to apportion: phone's cost is its direct 600
    assert (phone["cost_direct_gbp"], phone["cost_shared_apportioned_gbp"], phone["cost_gbp"]) == (600, 0, 600)
    service = one(phone_missing, "fct_service_month", service_id="S3")
    # a total over channels is never computed over the part that is there; the cost total is 900 + 600
    assert (service["transactions_started"], service["transactions_completed"]) == (None, None)
    assert (service["cost_gbp"], service["cost_shared_gbp"], service["channels_not_provided"]) == (1500, 0, "phone")


def test_missing_channel_blocks_apportioning_shared_costs(phone_missing):
    online = one(phone_missing, "fct_service_month_channel", service_id="S3B", channel="online")
    # shared 100 needs every channel's volume to be apportioned; phone's is not provided
    assert (online["cost_direct_gbp"], online["cost_shared_apportioned_gbp"], online["cost_gbp"]) == (900, None, None)
    assert one(phone_missing, "fct_service_month", service_id="S3B")["cost_gbp"] == 1000  # 900 + 100
    kpi = one(phone_missing, "kpi_cost_per_transaction", service_id="S3B", channel="online")
    assert (kpi["cost_per_transaction_gbp"], kpi["missing_inputs"]) == (
        None, "shared costs not apportioned: another channel's volume not provided")


def test_missing_channel_kpis_are_null_and_named(phone_missing):
    take_up = one(phone_missing, "kpi_digital_take_up", service_id="S3")
    assert take_up["transactions_completed"] is None
    assert take_up["digital_transactions_completed"] == 300
    assert take_up["digital_take_up_rate"] is None
    assert take_up["missing_inputs"] == "volume not provided: phone"
    assert take_up["baseline_month"] is None  # no month with a rate yet
    cost = {r["channel"]: r for r in rows(phone_missing, "SELECT * FROM kpi_cost_per_transaction WHERE "
                                                         "service_id = 'S3'")}
    assert cost["online"]["cost_per_transaction_gbp"] == pytest.approx(3.0)  # 900 / 300
    assert (cost["phone"]["cost_per_transaction_gbp"], cost["phone"]["missing_inputs"]) == (
        None, "transactions not provided")
    assert (cost["all"]["cost_gbp"], cost["all"]["cost_per_transaction_gbp"], cost["all"]["missing_inputs"]) == (
        1500, None, "transactions not provided")
    completion = {r["channel"]: r["completion_rate"] for r in rows(
        phone_missing, "SELECT * FROM kpi_completion_rate WHERE service_id = 'S3'")}
    assert completion == {"all": None, "online": pytest.approx(0.75), "phone": None}  # 300 / 400


def test_zero_sent_is_zero_and_no_row_is_null():
    con = build_warehouse(
        catalogue=[("S4", ["online", "phone"])],
        # April: online sent as 0; May: online not sent at all
        transactions=[("S4", APR, "online", 5, 0), ("S4", APR, "phone", 50, 50), ("S4", MAY, "phone", 60, 60)],
        start=APR, end=month(2024, 6))
    april = one(con, "fct_service_month_channel", service_id="S4", month=APR, channel="online")
    may = one(con, "fct_service_month_channel", service_id="S4", month=MAY, channel="online")
    assert (april["transactions_started"], april["transactions_completed"]) == (5, 0)
    assert (may["transactions_started"], may["transactions_completed"]) == (None, None)
    take_up = {r["month"]: r for r in rows(con, "SELECT * FROM kpi_digital_take_up")}
    # April: 0 online / (0 + 50) = 0.0, a real zero
    assert take_up[APR]["transactions_completed"] == 50
    assert take_up[APR]["digital_transactions_completed"] == 0
    assert take_up[APR]["digital_take_up_rate"] == 0.0
    assert take_up[APR]["missing_inputs"] is None
    # May: online not provided, so neither the digital count, the total nor the rate exist
    assert take_up[MAY]["transactions_completed"] is None
    assert take_up[MAY]["digital_transactions_completed"] is None
    assert take_up[MAY]["digital_take_up_rate"] is None
    assert take_up[MAY]["missing_inputs"] == "volume not provided: online"
    # completion: April online 0 / 5 = 0.0; May online NULL
    assert one(con, "kpi_completion_rate", month=APR, channel="online")["completion_rate"] == 0.0
    assert one(con, "kpi_completion_rate", month=MAY, channel="online")["completion_rate"] is None
    # April all: (0 + 50) / (5 + 50)
    assert one(con, "kpi_completion_rate", month=APR, channel="all")["completion_rate"] == pytest.approx(50 / 55)


def test_channel_not_offered_has_no_fact_row():
    con = build_warehouse(catalogue=[("S4", ["online"])], transactions=[("S4", APR, "online", 10, 10)])
    assert rows(con, "SELECT channel FROM fct_service_month_channel") == [{"channel": "online"}]


# --- digital take-up and channel shift ----------------------------------------------------------------------


def test_service_without_digital_channel_has_zero_take_up():
    con = build_warehouse(
        catalogue=[("S5", ["phone", "paper"])],
        transactions=[("S5", APR, "phone", None, 70), ("S5", APR, "paper", None, 30)])
    got = one(con, "kpi_digital_take_up", service_id="S5", month=APR)
    # none of its 70 + 30 transactions can be digital: 0 / 100 = 0.0
    assert got == {"service_id": "S5", "month": APR, "transactions_completed": 100,
                   "digital_transactions_completed": 0, "assisted_digital_transactions_completed": 0,
                   "digital_take_up_rate": 0.0, "baseline_month": APR, "take_up_change_pp": 0.0,
                   "shifted_transactions": 0, "digital_channel_offered": False, "total_basis": "channels",
                   "reported_transactions_completed": None, "missing_inputs": None}


def test_channel_shift_against_first_month_with_a_rate():
    jan, feb, mar, apr = (month(2024, m) for m in (1, 2, 3, 4))
    channels = ("online", "phone", "assisted_digital")
    volumes = {
        jan: (30, None, 5),    # phone not provided: no rate, so January cannot be the baseline
        feb: (50, 40, 10),     # 50 / 100 = 0.5
        mar: (120, 60, 20),    # 120 / 200 = 0.6
        apr: (210, 70, 20),    # 210 / 300 = 0.7
    }
    con = build_warehouse(
        catalogue=[("S6", list(channels))],
        transactions=[("S6", m, c, None, v) for m, vs in volumes.items() for c, v in zip(channels, vs)],
        start=jan, end=MAY)
    got = {r["month"]: r for r in rows(con, "SELECT * FROM kpi_digital_take_up")}
    assert [got[m]["baseline_month"] for m in (jan, feb, mar, apr)] == [feb] * 4
    assert got[jan]["digital_take_up_rate"] is None
    assert (got[jan]["take_up_change_pp"], got[jan]["shifted_transactions"]) == (None, None)
    assert got[jan]["missing_inputs"] == "volume not provided: phone"
    # assisted digital is counted in the total, reported apart, and not in the numerator
    assert (got[feb]["transactions_completed"], got[feb]["digital_transactions_completed"],
            got[feb]["assisted_digital_transactions_completed"]) == (100, 50, 10)
    assert got[feb]["digital_take_up_rate"] == pytest.approx(0.5)
    assert (got[feb]["take_up_change_pp"], got[feb]["shifted_transactions"]) == (pytest.approx(0.0), 0)
    # March: (0.6 - 0.5) x 100 = 10 pp; (0.6 - 0.5) x 200 = 20 transactions shifted
    assert got[mar]["digital_take_up_rate"] == pytest.approx(0.6)
    assert (got[mar]["take_up_change_pp"], got[mar]["shifted_transactions"]) == (pytest.approx(10.0), 20)
    # April: (0.7 - 0.5) x 100 = 20 pp; (0.7 - 0.5) x 300 = 60 transactions shifted
    assert got[apr]["digital_take_up_rate"] == pytest.approx(0.7)
    assert (got[apr]["take_up_change_pp"], got[apr]["shifted_transactions"]) == (pytest.approx(20.0), 60)


# --- completion rate ------------------------------------------------------------------------------------------


def test_completion_rate_is_completed_over_started_or_null():
    con = build_warehouse(
        catalogue=[("S7", ["online", "phone", "paper"]), ("S7B", ["online", "phone"])],
        transactions=[("S7", APR, "online", 200, 150),   # 150 / 200 = 0.75
                      ("S7", APR, "phone", None, 30),    # started not provided: NULL
                      ("S7", APR, "paper", 0, 0),        # zero started: NULL
                      ("S7B", APR, "online", 80, 60),    # 60 / 80 = 0.75
                      ("S7B", APR, "phone", 20, 5)])     # 5 / 20 = 0.25
    got = {(r["service_id"], r["channel"]): r for r in rows(con, "SELECT * FROM kpi_completion_rate")}
    assert got[("S7", "online")]["completion_rate"] == pytest.approx(0.75)
    assert (got[("S7", "phone")]["transactions_started"], got[("S7", "phone")]["completion_rate"]) == (None, None)
    assert (got[("S7", "paper")]["transactions_started"], got[("S7", "paper")]["completion_rate"]) == (0, None)
    # S7 all: phone's starts are not provided, so the service's starts and rate are NULL; completed 150 + 30 + 0
    assert (got[("S7", "all")]["transactions_started"], got[("S7", "all")]["transactions_completed"],
            got[("S7", "all")]["completion_rate"]) == (None, 180, None)
    assert got[("S7B", "online")]["completion_rate"] == pytest.approx(0.75)
    assert got[("S7B", "phone")]["completion_rate"] == pytest.approx(0.25)
    # S7B all: (60 + 5) / (80 + 20) = 0.65, not the mean of the channel rates
    assert got[("S7B", "all")]["completion_rate"] == pytest.approx(0.65)


# --- user satisfaction --------------------------------------------------------------------------------------


@pytest.fixture
def satisfaction():
    return build_warehouse(
        catalogue=[("S8", ["online", "phone", "paper"]), ("S8B", ["online", "phone"])],
        satisfaction=[("S8", APR, "online", 1, 2, 3, 4, 10),
                      ("S8", APR, "phone", 0, 0, 0, 0, 0),   # surveyed, nobody answered; paper not surveyed
                      ("S8B", APR, "online", 0, 0, 1, 2, 3),
                      ("S8B", APR, "phone", 2, 1, 1, 0, 1)])


def test_satisfaction_score_share_and_intervals(satisfaction):
    got = one(satisfaction, "kpi_user_satisfaction", service_id="S8", channel="online")
    assert got["responses"] == 20  # 1 + 2 + 3 + 4 + 10
    # (0 x 1 + 0.25 x 2 + 0.5 x 3 + 0.75 x 4 + 1 x 10) / 20 = 15 / 20 = 0.75
    score = (0 * 1 + 0.25 * 2 + 0.5 * 3 + 0.75 * 4 + 1 * 10) / 20
    assert score == 0.75
    assert got["satisfaction_score"] == pytest.approx(score)
    # normal approximation: se = sqrt(sum r_i (x_i - 0.75)^2 / n) / sqrt(n)
    #   = sqrt((1 x 0.5625 + 2 x 0.25 + 3 x 0.0625 + 4 x 0 + 10 x 0.0625) / 20 / 20) = sqrt(1.875 / 400)
    se = math.sqrt(1.875 / 400)
    assert got["satisfaction_score_ci_low"] == pytest.approx(score - Z * se)   # ~0.6158
    assert got["satisfaction_score_ci_high"] == pytest.approx(score + Z * se)  # ~0.8842
    assert got["satisfaction_score_ci_low"] < got["satisfaction_score"] < got["satisfaction_score_ci_high"]
    # top-2-box: (4 + 10) / 20 = 0.7, Wilson 95% interval
    assert got["satisfied_share"] == pytest.approx(14 / 20)
    low, high = wilson(14, 20)
    assert (got["satisfied_share_ci_low"], got["satisfied_share_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert got["satisfied_share_ci_low"] == pytest.approx(0.4810, abs=1e-4)
    assert got["satisfied_share_ci_high"] == pytest.approx(0.8545, abs=1e-4)


def test_satisfaction_all_sums_the_channels_surveyed(satisfaction):
    got = {r["channel"]: r for r in rows(satisfaction, "SELECT * FROM kpi_user_satisfaction WHERE service_id = 'S8B'")}
    assert sorted(got) == ["all", "online", "phone"]
    # all: ratings (0+2, 0+1, 1+1, 2+0, 3+1) = (2, 1, 2, 2, 4), 11 responses
    total = got["all"]
    assert [total[f"rating_{i}"] for i in range(1, 6)] == [2, 1, 2, 2, 4]
    assert total["responses"] == 11
    # (0.25 x 1 + 0.5 x 2 + 0.75 x 2 + 4) / 11 = 6.75 / 11
    assert total["satisfaction_score"] == pytest.approx(6.75 / 11)
    assert total["satisfied_share"] == pytest.approx(6 / 11)
    # online: (0.5 + 1.5 + 3) / 6 = 5 / 6; phone: (0.25 + 0.5 + 1) / 5 = 0.35
    assert got["online"]["satisfaction_score"] == pytest.approx(5 / 6)
    assert got["phone"]["satisfaction_score"] == pytest.approx(0.35)


def test_satisfaction_not_surveyed_has_no_row(satisfaction):
    channels = [r["channel"] for r in rows(satisfaction, "SELECT channel FROM kpi_user_satisfaction "
                                                         "WHERE service_id = 'S8' ORDER BY channel")]
    assert channels == ["all", "online", "phone"]  # paper offered but not surveyed: no row
    # all = online + phone (0 responses) = online's figures
    total = one(satisfaction, "kpi_user_satisfaction", service_id="S8", channel="all")
    assert total["responses"] == 20
    assert total["satisfaction_score"] == pytest.approx(0.75)


def test_satisfaction_zero_responses_is_null(satisfaction):
    got = one(satisfaction, "kpi_user_satisfaction", service_id="S8", channel="phone")
    assert got["responses"] == 0
    # no responses: no score, no share, and no interval around either
    assert {k: got[k] for k in ("satisfaction_score", "satisfaction_score_ci_low", "satisfaction_score_ci_high",
                                "satisfied_share", "satisfied_share_ci_low", "satisfied_share_ci_high")} == {
        "satisfaction_score": None, "satisfaction_score_ci_low": None, "satisfaction_score_ci_high": None,
        "satisfied_share": None, "satisfied_share_ci_low": None, "satisfied_share_ci_high": None}


# --- rolling 12 months --------------------------------------------------------------------------------------


ROLLING_MONTHS = [month(2023, m) for m in range(1, 13)] + [month(2024, 1)]


@pytest.fixture
def rolling():
    # S9, online only, month i = 1..13: cost 500 x i, 100 completed.
    # S10: 12 months but no costs sent for June 2023.
    return build_warehouse(
        catalogue=[("S9", ["online"]), ("S10", ["online"])],
        transactions=[("S9", m, "online", None, 100) for m in ROLLING_MONTHS]
        + [("S10", m, "online", None, 100) for m in ROLLING_MONTHS[:12]],
        costs=[("S9", m, "staff", "online", 500.0 * i) for i, m in enumerate(ROLLING_MONTHS, 1)]
        + [("S10", m, "staff", "online", 1000.0) for m in ROLLING_MONTHS[:12] if m != month(2023, 6)],
        start=ROLLING_MONTHS[0], end=month(2024, 2))


def test_rolling_12_months_null_until_12_months_exist(rolling):
    got = rows(rolling, "SELECT * FROM kpi_cost_per_transaction WHERE service_id = 'S9' AND channel = 'all' "
                        "ORDER BY month")
    assert [r["month"] for r in got] == ROLLING_MONTHS
    for r in got[:11]:
        assert (r["rolling_12m_cost_gbp"], r["rolling_12m_transactions_completed"],
                r["rolling_12m_cost_per_transaction_gbp"]) == (None, None, None)
    # December 2023: 500 x (1 + ... + 12) = 500 x 78 = 39,000 over 12 x 100 = 1,200 completed -> 32.50
    dec = got[11]
    assert (dec["rolling_12m_cost_gbp"], dec["rolling_12m_transactions_completed"]) == (39000, 1200)
    assert dec["rolling_12m_cost_per_transaction_gbp"] == pytest.approx(32.5)
    assert dec["cost_per_transaction_gbp"] == pytest.approx(60.0)  # the month alone: 6,000 / 100
    # January 2024: months 2..13: 500 x (2 + ... + 13) = 500 x 90 = 45,000 over 1,200 -> 37.50
    jan = got[12]
    assert (jan["rolling_12m_cost_gbp"], jan["rolling_12m_transactions_completed"]) == (45000, 1200)
    assert jan["rolling_12m_cost_per_transaction_gbp"] == pytest.approx(37.5)
    assert jan["cost_per_transaction_gbp"] == pytest.approx(65.0)  # 6,500 / 100
    # the only channel carries the same figures as the whole service
    online = one(rolling, "kpi_cost_per_transaction", service_id="S9", channel="online", month=month(2024, 1))
    assert online["rolling_12m_cost_per_transaction_gbp"] == pytest.approx(37.5)


def test_rolling_12_months_null_when_a_month_lacks_costs(rolling):
    dec = one(rolling, "kpi_cost_per_transaction", service_id="S10", channel="all", month=month(2023, 12))
    assert dec["cost_per_transaction_gbp"] == pytest.approx(10.0)  # 1,000 / 100
    assert (dec["rolling_12m_cost_gbp"], dec["rolling_12m_transactions_completed"],
            dec["rolling_12m_cost_per_transaction_gbp"]) == (None, None, None)
    june = one(rolling, "kpi_cost_per_transaction", service_id="S10", channel="all", month=month(2023, 6))
    assert (june["cost_gbp"], june["missing_inputs"]) == (None, "costs not provided")


def test_facts_built_month_by_month_equal_one_run():
    catalogue = [("S9", ["online", "phone"])]
    transactions = [("S9", m, c, 10 * i, 5 * i)
                    for i, m in enumerate(ROLLING_MONTHS[:3], 1) for c in ("online", "phone")]
    costs = [("S9", m, "overheads", "shared", 90.0) for m in ROLLING_MONTHS[:3]]
    whole = build_warehouse(catalogue, transactions, costs, start=ROLLING_MONTHS[0], end=ROLLING_MONTHS[3])
    monthly = build_warehouse(catalogue, transactions, costs,
                              runs=[(ROLLING_MONTHS[i], ROLLING_MONTHS[i + 1]) for i in (0, 1, 2, 1)])
    for table in (*FACTS, *KPIS):
        query = f"SELECT * FROM {table} ORDER BY ALL"
        assert rows(monthly, query) == rows(whole, query), table
    # each run replaces only its own months: 3 months x 2 channels, shared 90 split 45 / 45
    assert rows(monthly, "SELECT count(*) AS n, sum(cost_gbp) AS cost FROM fct_service_month_channel") == [
        {"n": 6, "cost": 270}]


# --- roll-ups ----------------------------------------------------------------------------------------------------

Q2_2024 = (APR, MAY, month(2024, 6))
ROLLUP_TABLES = ("submission_status", "kpi_by_period")  # then the roll-up tables, in catalogue order


def test_a_quarter_s_roll_up_is_the_sum_of_its_months_and_its_satisfaction_is_exact():
    """kpi_rollups (a month) and kpi_rollups_by_period (the quarter holding it) come from one roll-up: the quarter's
    figure is the sum of its months' numerators over the sum of their denominators, each month's is its own, and
    both name each KPI with the same order. The ratings are many (1.7 million in the quarter) so that a satisfaction
    numerator (score x responses) carries float noise above 1e-12: summed to 1e-6 (exact_sum) it is the exact
    weighted rating count again, and the quarter's score is exactly that count / responses."""
    volumes = {  # service, month: (online started, online completed, phone started, phone completed)
        ("S1", APR): (120, 100, 60, 50), ("S1", MAY): (130, 110, 70, 40), ("S1", Q2_2024[2]): (150, 140, 50, 30),
        ("S2", APR): (20, 10, 300, 290), ("S2", MAY): (40, 30, 310, 270), ("S2", Q2_2024[2]): (45, 35, 280, 260)}
    costs = {("S1", APR): 1000.10, ("S1", MAY): 1100.20, ("S1", Q2_2024[2]): 1200.30,
             ("S2", APR): 3000.01, ("S2", MAY): 3100.07, ("S2", Q2_2024[2]): 3333.33}
    ratings = {"S1": (15083, 69562, 6366, 83403, 47156), "S2": (59380, 72768, 68347, 76027, 90273)}  # each month
    con = build_warehouse(
        catalogue=[("S1", ["online", "phone"]), ("S2", ["online", "phone"])],
        transactions=[(s, m, channel, v[i], v[i + 1]) for (s, m), v in volumes.items()
                      for i, channel in ((0, "online"), (2, "phone"))],
        costs=[(s, m, "staff", "shared", cost) for (s, m), cost in costs.items()],
        satisfaction=[(s, m, "online", *r) for s, r in ratings.items() for m in Q2_2024],
        start=APR, end=month(2024, 7))
    for table in (*ROLLUP_TABLES, *(t.name for t in CATALOGUE.values() if t.name.startswith("kpi_rollups"))):
        build_table(con, CATALOGUE[table])

    def sums(months) -> dict:  # numerator, denominator of each KPI over the months, from the rows above
        chosen = [v for (_, m), v in volumes.items() if m in months]
        weighted = sum(0.25 * r[1] + 0.5 * r[2] + 0.75 * r[3] + r[4] for r in ratings.values()) * len(months)
        return {"digital_take_up": (sum(v[1] for v in chosen), sum(v[1] + v[3] for v in chosen)),
                "completion_rate": (sum(v[1] + v[3] for v in chosen), sum(v[0] + v[2] for v in chosen)),
                "cost_per_transaction": (round(sum(c for (_, m), c in costs.items() if m in months), 2),
                                         sum(v[1] + v[3] for v in chosen)),
                "user_satisfaction": (weighted, sum(map(sum, ratings.values())) * len(months))}

    def value(kpi, numerator, denominator):
        return round(numerator / denominator, 4) if kpi == "cost_per_transaction" else numerator / denominator

    government = "level = 'government' AND kpi IN ('digital_take_up', 'completion_rate', 'cost_per_transaction', " \
                 "'user_satisfaction')"
    quarter = {r["kpi"]: r for r in rows(con, f"SELECT * FROM kpi_rollups_by_period WHERE {government} "
                                              "AND grain = 'quarter' AND period_start = DATE '2024-04-01'")}
    assert {kpi: (r["numerator"], r["denominator"], r["value"]) for kpi, r in quarter.items()} == {
        kpi: (n, d, value(kpi, n, d)) for kpi, (n, d) in sums(Q2_2024).items()}
    assert quarter["user_satisfaction"]["value"] == 989821.5 / 1765095  # exactly; 0.5607751990686053 summed to 1e-12
    for m in Q2_2024:
        got = {r["kpi"]: r for r in rows(con, f"SELECT * FROM kpi_rollups WHERE {government} AND month = ?", [m])}
        assert {kpi: r["value"] for kpi, r in got.items()} == {
            kpi: value(kpi, n, d) for kpi, (n, d) in sums([m]).items()}, m
        assert {kpi: (r["kpi_order"], r["unit"], r["change_unit"]) for kpi, r in got.items()} == {
            kpi: (r["kpi_order"], r["unit"], r["change_unit"]) for kpi, r in quarter.items()}
        assert {r["services_reporting"] for r in got.values()} == {2}
