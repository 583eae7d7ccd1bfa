"""Pins the benefits formulas (plan, RAG, forecast, both savings) to hand-worked values, and the register's rules."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl
import pytest

from examples.benefits import _expected
from examples.services import build_services
from pipelines.lib.config import PROJECT_CONFIG_DIR, load_config

from tests.test_staging_rules import BENEFIT_COLUMNS, submitted
from tests.test_transforms_sql import build_warehouse, one, rows
from transforms import sql
from transforms.reference import validate_benefits


def month(year: int, number: int) -> dt.date:
    return dt.date(year, number, 1)


JAN = month(2024, 1)


def months_from(start: dt.date, count: int) -> list[dt.date]:
    return [month(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1) for i in range(count)]


def benefits_warehouse(register: list[dict], take_up: dict[tuple[str, dt.date], float | None],
                       cpt: dict[tuple[str, dt.date], tuple[float, int]] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with exactly the KPI rows benefits_realisation.sql reads, set by hand:
    take_up (service, month) -> rate (None: not provided; volume 10 000), cpt (service, month) -> (cost, completed)."""
    con = duckdb.connect()
    con.execute(sql("schema"))
    con.execute(sql("formulas"))  # the shared macros (exact_sum), as every warehouse connection has them
    con.execute("CREATE TABLE kpi_digital_take_up (service_id VARCHAR, month DATE, transactions_completed BIGINT, "
                "digital_transactions_completed BIGINT, digital_take_up_rate DOUBLE)")
    con.executemany("INSERT INTO kpi_digital_take_up VALUES (?, ?, ?, ?, ?)",
                    [(s, m, None if r is None else 10_000, None if r is None else round(r * 10_000), r)
                     for (s, m), r in take_up.items()])
    con.execute("CREATE TABLE kpi_cost_per_transaction (service_id VARCHAR, month DATE, channel VARCHAR, "
                "cost_gbp DOUBLE, transactions_completed BIGINT, cost_per_transaction_gbp DOUBLE)")
    for (service, at), (cost, completed) in (cpt or {}).items():
        con.execute("INSERT INTO kpi_cost_per_transaction VALUES (?, ?, 'all', ?, ?, ?)",
                    [service, at, cost, completed, cost / completed])
    con.execute("CREATE TABLE kpi_completion_rate (service_id VARCHAR, month DATE, channel VARCHAR, "
                "transactions_started BIGINT, transactions_completed BIGINT, completion_rate DOUBLE)")
    con.execute("CREATE TABLE kpi_user_satisfaction (service_id VARCHAR, month DATE, channel VARCHAR, "
                "responses BIGINT, satisfaction_score DOUBLE, satisfied_share DOUBLE, rating_4 BIGINT, "
                "rating_5 BIGINT)")
    con.execute("CREATE TABLE channel_shift_savings (service_id VARCHAR, month DATE, transactions_completed BIGINT, "
                "counterfactual_saving_gbp DOUBLE)")
    defaults = {"title": "A benefit", "description": None, "category": "non-cashable",
                "measure": "digital_take_up_rate", "unit": "ratio", "baseline_month": JAN, "owner": "Owner",
                "senior_responsible_owner": "SRO", "full_year_value_gbp": None, "confidence": "high",
                "trajectory": None}
    for benefit in register:
        row = {**defaults, **benefit}
        con.execute(f"INSERT INTO stg_benefits_register ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()))
    con.execute(f"CREATE TABLE benefits_realisation AS {sql('benefits_realisation')}")
    return con


def realisation(con, benefit_id: str, at: dt.date) -> dict:
    return one(con, "benefits_realisation", benefit_id=benefit_id, month=at)


# --- RAG ------------------------------------------------------------------------------------------------------------

MAY = month(2024, 5)


@pytest.mark.parametrize("actual, category, status, shortfall", [
    (0.5, "non-cashable", "green", 0.0),       # on plan
    (0.6, "non-cashable", "green", -0.1),      # ahead of plan
    (0.45, "non-cashable", "green", 0.05),     # behind by 5% of the promised change: still green
    (0.4499, "non-cashable", "amber", 0.0501),
    (0.30, "non-cashable", "amber", 0.2),      # behind by 20%: still amber
    (0.2999, "non-cashable", "red", 0.2001),
    (None, "non-cashable", "no data", None),   # no figure: no colour guessed
    (0.45, "dis-benefit", "green", -0.05),     # a dis-benefit below plan is better than planned
    (0.55, "dis-benefit", "green", 0.05),      # ... and above plan is worse
    (0.5501, "dis-benefit", "amber", 0.0501),
    (0.7001, "dis-benefit", "red", 0.2001),
])
def test_rag_status_at_its_boundaries(actual, category, status, shortfall):
    # planned: a straight line from 0 (Jan) to 1 (Sep), so 0.5 in May; the whole promised change is 1
    register = [{"benefit_id": "B1", "service_id": "S1", "baseline_value": 0.0, "target_value": 1.0,
                 "target_month": month(2024, 9), "category": category}]
    con = benefits_warehouse(register, {("S1", m): (0.3 if m != MAY else actual) for m in months_from(JAN, 5)})
    row = realisation(con, "B1", MAY)
    assert (row["planned_value"], row["rag_status"], row["shortfall_share"]) == (0.5, status, shortfall)


def test_rag_of_a_fall_in_unit_cost_judges_above_plan_as_behind():
    # cost per transaction planned to fall from 10 (Jan) to 6 (May): 8 planned in March, the change is -4
    register = [{"benefit_id": f"B{i}", "service_id": f"S{i}", "measure": "cost_per_transaction_gbp", "unit": "GBP",
                 "baseline_value": 10.0, "target_value": 6.0, "target_month": month(2024, 5)} for i in range(4)]
    march_cost = {0: 8_200.0, 1: 8_204.0, 2: 8_800.0, 3: 8_800.4}  # per 1,000 transactions
    con = benefits_warehouse(register, {(f"S{i}", m): 0.5 for i in range(4) for m in months_from(JAN, 3)},
                             cpt={(f"S{i}", m): (march_cost[i] if m.month == 3 else 9_000.0, 1_000)
                                  for i in range(4) for m in months_from(JAN, 3)})
    march = [realisation(con, f"B{i}", month(2024, 3)) for i in range(4)]
    assert [r["planned_value"] for r in march] == [8.0] * 4
    assert [(r["shortfall_share"], r["rag_status"]) for r in march] == [
        (0.05, "green"), (0.051, "amber"), (0.2, "amber"), (0.2001, "red")]


def test_no_data_is_null_everywhere_never_zero():
    register = [{"benefit_id": "B1", "service_id": "S1;S2", "baseline_value": 0.2, "target_value": 0.8,
                 "target_month": month(2024, 7)}]
    take_up = {(s, m): 0.4 for s in ("S1", "S2") for m in months_from(JAN, 4)}
    take_up[("S2", month(2024, 4))] = None  # one service of the group sent nothing
    con = benefits_warehouse(register, take_up)
    row = realisation(con, "B1", month(2024, 4))
    assert (row["actual_value"], row["variance"], row["share_of_target_realised"], row["rag_status"],
            row["forecast_value"], row["services_measured"], row["services_in_group"]) == (
        None, None, None, "no data", None, 1, 2)
    assert realisation(con, "B1", month(2024, 3))["actual_value"] == 0.4


# --- plan: trajectory and straight line -----------------------------------------------------------------------------

def test_planned_value_follows_the_trajectory_then_holds_the_target():
    point = {"month": month(2024, 4), "planned_value": 0.5}
    register = [
        {"benefit_id": "LINE", "service_id": "S1", "baseline_value": 0.2, "target_value": 0.8,
         "target_month": month(2024, 7)},
        {"benefit_id": "CURVE", "service_id": "S1", "baseline_value": 0.2, "target_value": 0.8,
         "target_month": month(2024, 10), "trajectory": [point]},
    ]
    con = benefits_warehouse(register, {("S1", m): 0.3 for m in months_from(JAN, 12)})
    line = [r["planned_value"] for r in rows(con, "SELECT planned_value FROM benefits_realisation "
                                                  "WHERE benefit_id = 'LINE' ORDER BY month")]
    curve = [r["planned_value"] for r in rows(con, "SELECT planned_value FROM benefits_realisation "
                                                   "WHERE benefit_id = 'CURVE' ORDER BY month")]
    assert line == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
    # 0.2 -> 0.5 over Jan-Apr (0.1 a month), then 0.5 -> 0.8 over Apr-Oct (0.05 a month), then the target
    assert curve == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.8, 0.8])


# --- forecast ---------------------------------------------------------------------------------------------------------

def test_forecast_extends_the_last_six_months_trend_to_the_target_month():
    register = [{"benefit_id": "B1", "service_id": "S1", "baseline_value": 0.1, "target_value": 0.9,
                 "target_month": month(2024, 12)}]
    series = [0.05, 0.05, 0.05, 0.30, 0.32, 0.34, 0.36, 0.38, 0.40]  # Jan-Sep: flat, then +0.02 a month from Apr
    con = benefits_warehouse(register, {("S1", m): v for m, v in zip(months_from(JAN, 9), series)})
    forecasts = {r["month"].month: r for r in rows(con, "SELECT month, forecast_value, forecast_points, "
                                                        "forecast_share_of_target FROM benefits_realisation")}
    assert forecasts[2]["forecast_value"] is None  # fewer than 3 values
    assert forecasts[9]["forecast_points"] == 6   # Apr-Sep only: the flat start is out of the window
    assert forecasts[9]["forecast_value"] == pytest.approx(0.46, abs=1e-6)  # 0.40 + 3 x 0.02 in December
    assert forecasts[9]["forecast_share_of_target"] == pytest.approx((0.46 - 0.1) / 0.8, abs=1e-4)


def test_no_forecast_after_the_target_month():
    register = [{"benefit_id": "B1", "service_id": "S1", "baseline_value": 0.1, "target_value": 0.9,
                 "target_month": month(2024, 4)}]
    con = benefits_warehouse(register, {("S1", m): 0.1 * i for i, m in enumerate(months_from(JAN, 6), start=1)})
    assert realisation(con, "B1", month(2024, 4))["forecast_value"] == pytest.approx(0.4)
    assert realisation(con, "B1", month(2024, 5))["forecast_value"] is None


# --- money realised ---------------------------------------------------------------------------------------------------

def test_cost_per_transaction_benefit_realises_baseline_minus_actual_unit_cost_times_volume():
    register = [{"benefit_id": "B1", "service_id": "S1", "measure": "cost_per_transaction_gbp", "unit": "GBP",
                 "category": "cashable", "baseline_value": 10.0, "target_value": 6.0, "target_month": month(2024, 5)}]
    con = benefits_warehouse(register, {("S1", m): 0.5 for m in months_from(JAN, 3)},
                             cpt={("S1", JAN): (10_000.0, 1_000), ("S1", month(2024, 2)): (9_000.0, 1_000),
                                  ("S1", month(2024, 3)): (15_000.0, 2_000)})
    march = realisation(con, "B1", month(2024, 3))
    assert march["actual_value"] == 7.5
    # (10 - 10) x 1000 + (10 - 9) x 1000 + (10 - 7.5) x 2000
    assert march["realised_to_date_gbp"] == 6_000.0
    # planned 10, 9, 8 GBP: (10 - 10) x 1000 + (10 - 9) x 1000 + (10 - 8) x 2000
    assert march["planned_to_date_gbp"] == 5_000.0
    assert realisation(con, "B1", month(2024, 2))["realised_to_date_gbp"] == 1_000.0


def test_take_up_benefit_has_no_money_value():
    register = [{"benefit_id": "B1", "service_id": "S1", "baseline_value": 0.2, "target_value": 0.8,
                 "target_month": month(2024, 7)}]
    con = benefits_warehouse(register, {("S1", JAN): 0.2})
    row = realisation(con, "B1", JAN)
    assert (row["realised_to_date_gbp"], row["planned_to_date_gbp"]) == (None, None)


# --- channel-shift savings on the hand-worked example ---------------------------------------------------------------

APR, NEXT_APR = month(2024, 4), month(2024, 5)  # "a year" apart: the example's figures are annual volumes


@pytest.fixture(scope="module")
def hand_worked():
    """4.20m transactions at 50.8% take-up, CPT GBP 26.44, digital CPT GBP 16.81; then 4.35m at 88.2%, CPT GBP 26.03,
    digital CPT GBP 23.81 (the real register-update service of DESIGN 4). One offline channel: phone."""
    online_before, total_before = 2_133_600, 4_200_000
    online_after, total_after = 3_836_700, 4_350_000
    cost_before, cost_after = total_before * 26.44, total_after * 26.03
    transactions = [("S1", APR, "online", None, online_before),
                    ("S1", APR, "phone", None, total_before - online_before),
                    ("S1", NEXT_APR, "online", None, online_after),
                    ("S1", NEXT_APR, "phone", None, total_after - online_after)]
    costs = [("S1", APR, "it", "online", round(online_before * 16.81, 2)),
             ("S1", APR, "staff", "phone", round(cost_before - online_before * 16.81, 2)),
             ("S1", NEXT_APR, "it", "online", round(online_after * 23.81, 2)),
             ("S1", NEXT_APR, "staff", "phone", round(cost_after - online_after * 23.81, 2))]
    con = build_warehouse([("S1", ["online", "phone"])], transactions, costs, start=APR, end=month(2024, 6))
    con.execute(f"CREATE TABLE channel_shift_savings AS {sql('channel_shift_savings')}")
    con.execute(f"CREATE TABLE channel_shift_savings_rollup AS {sql('channel_shift_savings_rollup')}")
    return con


def test_theoretical_saving_is_about_32m_a_year(hand_worked):
    row = one(hand_worked, "channel_shift_savings", service_id="S1", month=NEXT_APR)
    offline_cpt = (4_200_000 * 26.44 - 2_133_600 * 16.81) / 2_066_400  # GBP 36.38 at baseline
    shifted = round((0.882 - 0.508) * 4_350_000)                        # 1,626,900 transactions
    assert row["shifted_transactions"] == shifted
    assert row["baseline_offline_cpt_gbp"] == pytest.approx(offline_cpt, abs=1e-4)
    assert row["baseline_digital_cpt_gbp"] == pytest.approx(16.81, abs=1e-4)
    assert row["theoretical_saving_gbp"] == pytest.approx(shifted * (offline_cpt - 16.81), abs=1)
    assert round(row["theoretical_saving_gbp"] / 1e6, 1) == 31.8


def test_counterfactual_saving_is_about_1_8m_a_year(hand_worked):
    row = one(hand_worked, "channel_shift_savings", service_id="S1", month=NEXT_APR)
    assert row["baseline_cpt_gbp"] == pytest.approx(26.44, abs=1e-4)
    # today's volume at the baseline mix and unit costs (4.35m x 26.44) minus today's cost (4.35m x 26.03)
    assert row["counterfactual_saving_gbp"] == pytest.approx(4_350_000 * (26.44 - 26.03), abs=0.02)
    assert round(row["counterfactual_saving_gbp"] / 1e6, 1) == 1.8


def test_savings_are_zero_at_baseline_and_cumulate(hand_worked):
    baseline = one(hand_worked, "channel_shift_savings", service_id="S1", month=APR)
    later = one(hand_worked, "channel_shift_savings", service_id="S1", month=NEXT_APR)
    assert baseline["theoretical_saving_gbp"] == 0
    assert baseline["counterfactual_saving_gbp"] == pytest.approx(0, abs=0.01)
    assert later["counterfactual_saving_cumulative_gbp"] == pytest.approx(
        baseline["counterfactual_saving_gbp"] + later["counterfactual_saving_gbp"], abs=0.01)
    assert (later["months_since_baseline"], later["counterfactual_months_measured"]) == (2, 2)
    assert later["missing_inputs"] is None


def test_rollups_add_services_with_coverage_and_like_for_like(hand_worked):
    government = rows(hand_worked, "SELECT * FROM channel_shift_savings_rollup WHERE level = 'government' "
                                   "ORDER BY month")
    service = one(hand_worked, "channel_shift_savings", service_id="S1", month=NEXT_APR)
    assert [(r["services_in_scope"], r["services_reporting"], r["coverage_share"]) for r in government] == [
        (1, 1, 1.0), (1, 1, 1.0)]
    assert [r["same_services_as_previous_month"] for r in government] == [None, True]
    assert government[1]["theoretical_saving_gbp"] == service["theoretical_saving_gbp"]
    assert {r["level"] for r in rows(hand_worked, "SELECT level FROM channel_shift_savings_rollup")} == {
        "agency", "department", "government"}


def test_savings_benefit_is_the_counterfactual_summed_from_its_baseline():
    register = [{"benefit_id": "B1", "service_id": "S1;S2", "measure": "channel_shift_saving_gbp", "unit": "GBP",
                 "category": "cashable", "baseline_value": 0.0, "target_value": 600.0, "target_month": month(2024, 6)}]
    con = benefits_warehouse(register, {(s, m): 0.5 for s in ("S1", "S2") for m in months_from(JAN, 3)})
    con.execute("DROP TABLE benefits_realisation")
    con.executemany("INSERT INTO channel_shift_savings VALUES (?, ?, 100, ?)",
                    [("S1", JAN, 0.0), ("S2", JAN, 0.0), ("S1", month(2024, 2), 50.0), ("S2", month(2024, 2), 70.0),
                     ("S1", month(2024, 3), 60.0)])  # S2 has no March figure
    con.execute(f"CREATE TABLE benefits_realisation AS {sql('benefits_realisation')}")
    february = realisation(con, "B1", month(2024, 2))
    assert (february["actual_value"], february["realised_to_date_gbp"], february["planned_value"]) == (
        120.0, 120.0, 120.0)
    assert realisation(con, "B1", month(2024, 3))["rag_status"] == "no data"


# --- the register's rules -------------------------------------------------------------------------------------------

def benefit_row(benefit_id: str, **changes) -> list[str | None]:
    row = {"benefit_id": benefit_id, "title": "More online", "description": None, "service_id": "S1",
           "category": "cashable", "measure": "digital_take_up_rate", "unit": "ratio", "baseline_value": "0.4",
           "baseline_month": "2024-04-01", "target_value": "0.6", "target_month": "2025-04", "owner": "Ops lead",
           "senior_responsible_owner": "Director", "full_year_value_gbp": None, "confidence": "medium",
           "trajectory": None}
    return list({**row, **changes}.values())


def test_bad_register_rows_are_quarantined_and_the_rest_used():
    source = submitted([*BENEFIT_COLUMNS, "trajectory"], [
        benefit_row("B1", trajectory="2024-10=0.45; 2025-01 = 0.55"),     # 1 accepted, with a trajectory
        benefit_row("B2", service_id="S9"),                               # 2 unknown_service
        benefit_row("B3", measure="happiness"),                           # 3 unknown_measure
        benefit_row("B4", target_month="2024-03"),                        # 4 target_before_baseline
        benefit_row("B5", target_value="lots"),                           # 5 not_a_number
        benefit_row("B1"),                                                # 6 duplicate_key
        benefit_row("B6", service_id="S1; S2", measure="channel_shift_saving_gbp", unit="GBP",
                    baseline_value="0", target_value="1000000"),          # 7 accepted: a group of services
        benefit_row("B7", service_id="S1;S9"),                            # 8 unknown_service (one of the group)
        benefit_row("B8", trajectory="2024-10=0.45;2024-10=0.5"),         # 9 trajectory_not_valid (month twice)
        benefit_row("B9", trajectory="2024-10=about half"),               # 10 trajectory_not_valid (not a number)
        benefit_row("B10", trajectory="2025-06=0.5"),                     # 11 trajectory outside baseline-target
        benefit_row("B11", target_value="0.40"),                          # 12 no_change_planned
    ], source_file="benefits/benefits_register.csv")
    accepted, quarantined = validate_benefits(source, ["S1", "S2"])
    assert quarantined.sort("row_number").select("row_number", "rule", "column_name", "offending_value").rows() == [
        (2, "unknown_service", "service_id", "S9"),
        (3, "unknown_measure", "measure", "happiness"),
        (4, "target_before_baseline", "target_month", "2024-03"),
        (5, "not_a_number", "target_value", "lots"),
        (6, "duplicate_key", "benefit_id", "B1"),
        (8, "unknown_service", "service_id", "S1;S9"),
        (9, "trajectory_not_valid", "trajectory", "2024-10=0.45;2024-10=0.5"),
        (10, "trajectory_not_valid", "trajectory", "2024-10=about half"),
        (11, "trajectory_outside_baseline_to_target", "trajectory", "2025-06=0.5"),
        (12, "no_change_planned", "target_value", "0.40"),
    ]
    assert accepted.select("benefit_id", "service_id", "trajectory").rows() == [
        ("B1", "S1", [{"month": month(2024, 10), "planned_value": 0.45}, {"month": JAN.replace(year=2025),
                                                                           "planned_value": 0.55}]),
        ("B6", "S1;S2", None),
    ]
    assert source.height == accepted.height + quarantined.height


def test_the_register_without_a_trajectory_column_is_typed_as_before():
    accepted, quarantined = validate_benefits(submitted(BENEFIT_COLUMNS, [benefit_row("B1")[:-1]]), ["S1"])
    assert (accepted.columns, quarantined.height) == (BENEFIT_COLUMNS, 0)
    assert accepted.schema["baseline_value"] == pl.Float64


# --- the whole graph ------------------------------------------------------------------------------------------------

def query(store, statement: str, params=None) -> list[tuple]:
    with store.connect() as con:
        return con.execute(statement, params or []).fetchall()


def test_graph_quarantines_the_seeded_register_rows_and_uses_the_rest(built):
    store, defects, result = built
    assert result.success
    seeded = [(d.file, d.row_number, d.rule) for d in defects if d.file.startswith("benefits/")]
    assert set(query(store, "SELECT source_file, row_number, rule FROM quarantine "
                            "WHERE return_type = 'benefits_register'")) == set(seeded)
    staged = {r[0] for r in query(store, "SELECT benefit_id FROM stg_benefits_register")}
    realised = {r[0] for r in query(store, "SELECT DISTINCT benefit_id FROM benefits_realisation")}
    assert staged == realised and len(staged) >= 8


def test_graph_shows_a_missing_month_as_no_data(built):
    store, _, _ = built
    # environment sent no return for 2025-10: its benefit has no figure that month, and no colour
    assert query(store, "SELECT actual_value, rag_status, realised_to_date_gbp, forecast_value "
                        "FROM benefits_realisation WHERE service_id = 'ENV-001' AND month = '2025-10-01'") == [
        (None, "no data", None, None)]
    assert query(store, "SELECT counterfactual_saving_gbp, counterfactual_saving_cumulative_gbp FROM "
                        "channel_shift_savings WHERE service_id = 'ENV-001' AND month = '2025-10-01'") == [(None, None)]
    november = query(store, "SELECT counterfactual_months_measured, months_since_baseline FROM channel_shift_savings "
                            "WHERE service_id = 'ENV-001' AND month = '2025-11-01'")
    assert november == [(4, 5)]


def test_graph_publishes_the_benefits_tables(built):
    store, _, _ = built
    for table in ("benefits_register", "benefits_realisation", "channel_shift_savings", "channel_shift_savings_rollup",
                  "benefits_summary_figures"):
        published = pl.read_parquet(store.published / f"{table}.parquet")
        assert published.height == query(store, f"SELECT count(*) FROM {table}")[0][0] > 0, table
        assert (store.published / f"{table}.csv").exists()
    register = pl.read_csv(store.published / "benefits_register.csv")
    group = register.filter(pl.col("service_id").str.contains(";"))
    assert group.height == 1 and group["trajectory"][0].count("=") >= 1


# The example data is every user's first impression: moving some transactions online saves a share of what the
# services cost, never most of it, and no benefit is worth more than its services cost.
PLAUSIBLE_SAVING_SHARE = 0.25


def test_demo_channel_shift_savings_are_a_plausible_share_of_the_services_cost_every_month():
    """Over make demo's 36 months and all its services, as the generator makes them on average: the month's
    saving against the first month's channel mix, over what the services cost that month."""
    agencies = load_config(PROJECT_CONFIG_DIR).agencies
    services = build_services(agencies, np.random.default_rng(20230101), 0)  # the generator's own seed
    shares = []
    for month in range(36):
        figures = [(_expected(s, month), s.annual_volume / 12) for s in services if s.take_up_end > 0]
        saving = sum(f["monthly_saving_gbp"] for f, _ in figures)
        cost = sum(f["cost_per_transaction_gbp"] * volume for f, volume in figures)
        shares.append(round(saving / cost, 3))
    assert [share for share in shares if not 0 <= share <= PLAUSIBLE_SAVING_SHARE] == []
    assert max(shares) > 0.02  # and channel shift does save something


def test_demo_benefits_realised_to_date_stay_below_their_services_cost_since_baseline(built):
    store, _, _ = built
    published = store.published
    over = duckdb.sql(f"""
        WITH benefit_services AS (
            SELECT benefit_id, month, baseline_month, realised_to_date_gbp,
                trim(unnest(string_split(service_id, ';'))) AS service_id
            FROM read_parquet('{published / 'benefits_realisation.parquet'}')
            WHERE realised_to_date_gbp IS NOT NULL AND category <> 'dis-benefit'
        )
        SELECT b.benefit_id, b.month, any_value(b.realised_to_date_gbp) AS realised, sum(c.cost_gbp) AS cost
        FROM benefit_services b JOIN read_parquet('{published / 'kpi_cost_per_transaction.parquet'}') c
            ON c.service_id = b.service_id AND c.channel = 'all' AND c.month BETWEEN b.baseline_month AND b.month
        GROUP BY b.benefit_id, b.month
        HAVING any_value(b.realised_to_date_gbp) > {PLAUSIBLE_SAVING_SHARE} * sum(c.cost_gbp)""").fetchall()
    assert over == []
