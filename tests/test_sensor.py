"""The submission sensor: new or changed returns start runs of just their months and agencies; repeats start none."""

import os
import shutil

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.lib.partitions import AGENCIES_TAG
from pipelines.lib.resources import DataStore, Settings
from pipelines.defs.automation.sensors import submission_sensor
from tests.conftest import run_graph


def evaluate(store: DataStore, cursor: str | None):
    context = dg.build_sensor_context(cursor=cursor, resources={"store": store, "settings": Settings()},
                                      definitions=defs,
                                      instance=dg.DagsterInstance.ephemeral())
    result = submission_sensor.evaluate_tick(context)
    return result.run_requests, result.cursor


@pytest.fixture
def landed(built, tmp_path):
    store, _, _ = built
    shutil.copytree(store.landing, tmp_path / "data" / "landing")
    return DataStore(data_dir=str(tmp_path / "data"))


def test_first_look_backfills_every_month_in_one_run(landed):
    requests, cursor = evaluate(landed, None)
    [request] = requests
    assert request.tags["dagster/asset_partition_range_start"] == "2025-07-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-12-01"
    assert evaluate(landed, cursor)[0] == []  # nothing changed since


def test_a_corrected_return_runs_only_its_month_and_agency(landed):
    _, cursor = evaluate(landed, None)
    path = landed.landing / "land/2025-10/transactions.csv"
    path.write_text(path.read_text().replace(",online,", ",online,", 1) + "LND-001,2025-10-01,online,1,1\n")
    [request], cursor = evaluate(landed, cursor)
    assert (request.partition_key, request.tags[AGENCIES_TAG]) == ("2025-10-01", "land")
    assert evaluate(landed, cursor)[0] == []


def test_an_identical_resubmission_starts_nothing(landed):
    _, cursor = evaluate(landed, None)
    path = landed.landing / "revenue/2025-11/transactions.csv"
    path.write_bytes(path.read_bytes())  # same bytes, a new file time
    os.utime(path, None)
    assert evaluate(landed, cursor)[0] == []


def test_a_month_not_yet_ended_waits(landed):
    _, cursor = evaluate(landed, None)
    future = landed.landing / "revenue/2999-01"
    future.mkdir()
    shutil.copy(landed.landing / "revenue/2025-11/transactions.csv", future / "transactions.csv")
    requests, cursor = evaluate(landed, cursor)
    assert requests == []


def test_a_run_limited_to_one_agency_leaves_the_others_as_they_were(copied):
    store, _ = copied
    with store.connect() as con:
        before = con.execute("SELECT * FROM stg_transactions WHERE agency_id <> 'land' ORDER BY ALL").fetchall()
        land = con.execute("SELECT count(*) FROM stg_transactions WHERE agency_id = 'land' "
                           "AND month = '2025-10-01'").fetchall()
    (store.landing / "revenue/2025-10/transactions.csv").unlink()  # would empty revenue's month if it were re-staged
    result = run_graph(store, "2025-10-01", "2025-10-01", tags={AGENCIES_TAG: "land"})
    assert result.success
    with store.connect() as con:
        assert con.execute("SELECT * FROM stg_transactions WHERE agency_id <> 'land' ORDER BY ALL").fetchall() == before
        assert con.execute("SELECT count(*) FROM stg_transactions WHERE agency_id = 'land' "
                           "AND month = '2025-10-01'").fetchall() == land
