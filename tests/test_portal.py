"""An agency user signs in, uploads a good and a bad return, reads at once what staging will make of them (row
numbers, columns, values and rules exactly as a run gives them), submits, and the file lands under the mapping's
name with its audit record; after a run the portal shows it published, and its feedback equals the quarantine the
run wrote, row for row. The API answers the same feedback as JSON; a workbook holding three returns is read as each,
and one declaring a huge sheet is refused by the pipeline's own guard; a run holding the warehouse blocks no upload."""

import hashlib

import dagster as dg
import duckdb
import polars as pl
import pytest
import requests

from examples.generator import generate
from pipelines.defs.ingestion.assets import raw_agency_returns
from pipelines.lib.partitions import AGENCIES_TAG
from pipelines.lib.resources import DataStore, Settings
from pipelines.portal.store import Store
from tests.conftest import run_graph
from tests.portal import BAD, BAD_ROWS, GOOD, PASSWORD, csrf_of, landed_with_catalogue, serving, table, text_of
from tests.test_hostile_inputs import workbook  # an XLSX whose sheet declares any range

@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = landed_with_catalogue(tmp_path_factory.mktemp("portal"))
    with serving(root) as served:
        served.add_user("a@revenue.example", "agency", "revenue")
        yield served


def upload(client: requests.Session, url: str, content: bytes, month: str, name: str = "june.csv") -> str:
    token = csrf_of(client.get(f"{url}/upload").text)
    response = client.post(f"{url}/upload", data={"csrf_token": token, "month": month, "file_name": "transactions.csv"},
                           files={"file": (name, content)}, allow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def submit(client: requests.Session, url: str, page: str) -> None:
    token = csrf_of(client.get(url + page).text)
    response = client.post(f"{url}{page}/submit", data={"csrf_token": token}, allow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, page)


def test_feedback_submit_land_audit_and_the_status_after_a_run(portal):
    client = portal.session("a@revenue.example")
    bad_page = upload(client, portal.url, BAD, "2025-06")
    html = client.get(portal.url + bad_page).text
    assert [text_of(html, i) for i in ("rows-read", "rows-accepted", "rows-quarantined")] == ["4", "0", "4"]
    assert table(html, "quarantined") == BAD_ROWS
    assert not (portal.data / "landing" / "revenue").exists()  # nothing submitted yet

    good_page = upload(client, portal.url, GOOD, "2025-06")
    html = client.get(portal.url + good_page).text
    assert [text_of(html, i) for i in ("rows-read", "rows-accepted", "rows-quarantined")] == ["2", "2", "0"]
    assert table(html, "quarantined") == []
    assert table(html, "kpis-REV-001") == [["Completion rate", "1 of 1", ""],
                                           ["Cost per transaction", "0 of 1", "costs not provided"],
                                           ["Digital take-up", "1 of 1", ""]]
    assert ("Cost per transaction cannot be formed for 1 of 1 services: costs not provided. Send the costs return, "
            "or map the cost per transaction the publisher reports (a measure cost_per_transaction_gbp)") in " ".join(
        html.split())

    submit(client, portal.url, good_page)
    landed = portal.data / "landing" / "revenue" / "2025-06" / "transactions.csv"
    assert landed.read_bytes() == GOOD
    assert text_of(client.get(portal.url + good_page).text, "status").startswith(
        "Received: waiting for the next run (submitted ")
    [record] = Store(portal.portal_dir / "portal.sqlite").submissions("revenue")
    assert (record.uploaded_by, record.sha256, record.size_bytes, record.file_name, record.landing_path) == (
        "a@revenue.example", sha(GOOD), len(GOOD), "transactions.csv",
        "revenue/2025-06/transactions.csv")
    assert (record.feedback["preview"]["rows_accepted"], record.feedback["preview"]["quarantined"]) == (2, [])
    assert client.get(f"{portal.url}{good_page}/file").content == GOOD

    submit(client, portal.url, bad_page)  # a resubmission: the new version replaces the old in the landing folder
    assert landed.read_bytes() == BAD
    returns = table(client.get(f"{portal.url}/returns").text, "submissions")
    assert [row[0:1] + row[3:] for row in returns] == [["2025-06", "Received: waiting for the next run", "", ""],
                                                       ["2025-06", "Superseded by a later version", "", ""]]

    # a run of the month that fails before it reads anything (its configuration folder is missing): the status says so
    store = DataStore(data_dir=str(portal.data))
    failed = dg.materialize([raw_agency_returns], partition_key="2025-06-01", tags={AGENCIES_TAG: "passports,revenue"},
                            resources={"store": store, "settings": Settings(config_dir=str(portal.data / "none"))},
                            instance=dg.DagsterInstance.from_config(portal.env["DAGSTER_HOME"]), raise_on_error=False)
    assert not failed.success
    returns = table(client.get(f"{portal.url}/returns").text, "submissions")
    assert [row[3] for row in returns] == ["The run that took it failed: the central team will run it again",
                                           "Superseded by a later version"]

    may = upload(client, portal.url, GOOD.replace(b"2025-06", b"2025-05"), "2025-05")  # the month before, good
    submit(client, portal.url, may)
    run_graph(store, "2025-05-01", "2025-06-01")
    returns = table(client.get(f"{portal.url}/returns").text, "submissions")
    assert [row[0:1] + row[3:] for row in returns] == [["2025-05", "Published", "2", "0"],
                                                       ["2025-06", "Published", "0", "4"],
                                                       ["2025-06", "Superseded by a later version", "", ""]]
    quarantine = pl.read_parquet(portal.data / "published" / "quarantine.parquet").filter(
        pl.col("source_file") == "revenue/2025-06/transactions.csv").sort("row_number")
    [june] = [s for s in Store(portal.portal_dir / "portal.sqlite").submissions("revenue") if s.sha256 == sha(BAD)]
    columns = ["row_number", "column_name", "offending_value", "rule", "message"]
    assert quarantine.select(columns).rows() == [tuple(row[c] for c in columns)
                                                 for row in june.feedback["preview"]["quarantined"]]

    # June corrected, but with ten times May's volume: compared with May (June's published figures give way to the
    # return's), and the jump flagged as the run's month_on_month_jumps check will flag it
    ten_times = GOOD.replace(b",1000,950", b",10000,9500").replace(b",200,180", b",2000,1800")
    html = client.get(portal.url + upload(client, portal.url, ten_times, "2025-06")).text
    assert table(html, "compared") == [["REV-001", "2025-06", "11,300", "10.00", "not formed", ""]]
    assert ("REV-001, 2025-06: transactions completed moved more than 3 times on the last published month. Check the "
            "figure: the run will warn about it.") in " ".join(html.split())


def test_the_api_answers_the_same_feedback_as_json_and_submits(portal):
    token = portal.add_token("revenue")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{portal.url}/api/agencies/revenue/returns/2025-07/transactions.csv"
    checked = requests.post(url, data=BAD.replace(b"2025-06", b"2025-07"), headers=headers)
    assert checked.status_code == 200
    assert [[str(q["row_number"]), q["service_id"], q["column_name"], q["offending_value"], q["rule"], q["message"]]
            for q in checked.json()["feedback"]["preview"]["quarantined"]] == BAD_ROWS
    assert checked.json()["submitted_at"] is None
    assert not (portal.data / "landing" / "revenue" / "2025-07").exists()

    submitted = requests.post(f"{url}?submit=true", data=GOOD.replace(b"2025-06", b"2025-07"), headers=headers)
    assert (submitted.status_code, submitted.json()["landing_path"]) == (201, "revenue/2025-07/transactions.csv")
    assert submitted.json()["feedback"]["preview"]["rows_accepted"] == 2
    early = requests.post(f"{portal.url}/api/agencies/revenue/returns/2999-01/transactions.csv", data=GOOD,
                          headers=headers)
    assert (early.status_code, early.json()) == (400, {
        "error": "The month 2999-01 has not ended yet: submit its return once it has."})
    listed = requests.get(f"{portal.url}/api/agencies/revenue/returns", headers=headers).json()
    assert [(r["month"], r["uploaded_by"], r["status"]["state"]) for r in listed if r["month"] == "2025-07"] == [
        ("2025-07", "api:revenue", "received")]


def test_the_command_line_makes_accounts_and_tokens(portal):
    portal.cli("add-user", "New@Revenue.example", "--agency", "revenue", "--password-stdin", stdin=PASSWORD + "\n")
    assert portal.session("new@revenue.example") is not None
    token = portal.cli("add-token", "revenue", "--label", "nightly upload").strip()
    assert requests.get(f"{portal.url}/api/agencies/revenue/returns",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_workbook_holding_three_returns_is_read_as_each_and_lands_under_its_mappings_name(portal, tmp_path):
    generate(tmp_path / "landing", start="2025-07", months=4, services_per_agency=2)  # vehicles: one XLSX a month
    workbook = (tmp_path / "landing" / "vehicles" / "2025-08" / "monthly_return.xlsx").read_bytes()
    answer = requests.post(f"{portal.url}/api/agencies/vehicles/returns/2025-08/monthly_return.xlsx?submit=true",
                           data=workbook, headers={"Authorization": f"Bearer {portal.add_token('vehicles')}"})
    assert answer.status_code == 201
    feedback = answer.json()["feedback"]["preview"]
    assert [(r["return_type"], r["layout"]) for r in feedback["recognised"]] == [
        ("transactions", "unpivot"), ("costs", "canonical"), ("satisfaction", "canonical")]
    assert answer.json()["landing_path"] == "vehicles/2025-08/monthly_return.xlsx"
    assert (portal.data / "landing" / "vehicles" / "2025-08" / "monthly_return.xlsx").read_bytes() == workbook


def test_a_workbook_declaring_a_huge_sheet_is_refused_unparsed_by_the_pipelines_guard(portal):
    bomb = workbook(dimension="A1:XFD1048576")  # 1.6 KB declaring 17 billion cells
    answer = requests.post(f"{portal.url}/api/agencies/vehicles/returns/2025-08/monthly_return.xlsx", data=bomb,
                           headers={"Authorization": f"Bearer {portal.add_token('vehicles')}"})
    assert answer.status_code == 200
    assert answer.json()["feedback"]["preview"]["problem"] == (
        "the file could not be read: the sheet 'Transactions' spans 1,048,576 rows x 16,384 columns, over 20,000,000 "
        "cells (files.max_sheet_cells)")
    assert requests.get(f"{portal.url}/sign-in").status_code == 200  # still serving


def test_an_upload_is_checked_submitted_and_listed_while_a_run_holds_the_warehouse(portal):
    # DuckDB lets one process open the file: held here, as a run holds it, no other process can open it at all
    with duckdb.connect(str(portal.data / "warehouse.duckdb")) as held:
        held.execute("SELECT 1")
        answer = requests.post(f"{portal.url}/api/agencies/revenue/returns/2025-08/transactions.csv?submit=true",
                               data=GOOD.replace(b"2025-06", b"2025-08"),
                               headers={"Authorization": f"Bearer {portal.add_token('revenue')}"})
        assert (answer.status_code, answer.json()["feedback"]["preview"]["rows_accepted"]) == (201, 2)
        returns = table(portal.session("a@revenue.example").get(f"{portal.url}/returns").text, "submissions")
        assert ["2025-08", "Received: waiting for the next run", "", ""] in [row[0:1] + row[3:] for row in returns]
