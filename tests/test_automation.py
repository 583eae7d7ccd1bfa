"""The monthly schedule, the run-failure alert (file and webhook, secrets redacted), the KPI marts' freshness
policies (from their catalogue entries), and the UI bound to loopback: what the daemon runs, tested without it."""

import dataclasses
import datetime as dt
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

import yaml

from pipelines.definitions import defs
from pipelines.defs.automation.alerts import WEBHOOK_ENV, run_failure_alert
from pipelines.defs.automation.schedules import monthly_cycle_schedule
from pipelines.lib.partitions import CYCLE_DAY
from pipelines.lib.config import PROJECT_CONFIG_DIR, load_config
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.tables import table_asset
from transforms.catalogue import CATALOGUE, TABLES, Freshness
from tests.operations import REPO

SECRET = "planted-Secret-4f1e9a27c3"
LONDON = ZoneInfo("Europe/London")


def test_schedule_runs_the_month_just_ended_on_cycle_day_in_london():
    assert (monthly_cycle_schedule.cron_schedule, monthly_cycle_schedule.execution_timezone) == \
        ("0 6 21 * *", "Europe/London")
    assert monthly_cycle_schedule.job_name == "monthly_cycle"
    for when, month in [(dt.datetime(2026, 1, 21, 6, tzinfo=LONDON), "2025-12-01"),
                        (dt.datetime(2026, 3, 21, 6, tzinfo=LONDON), "2026-02-01")]:
        request = monthly_cycle_schedule(dg.build_schedule_context(scheduled_execution_time=when))
        assert (request.partition_key, request.run_key) == (month, month)
    assert defs.resolve_job_def("monthly_cycle").partitions_def.has_partition_key("2025-12-01")


def test_every_agency_return_is_due_before_the_cycle_runs():
    late = [(a.id, a.return_due_day) for a in load_config(PROJECT_CONFIG_DIR).agencies
            if a.return_due_day >= CYCLE_DAY]
    assert late == []


def test_schedules_and_sensors_are_on_by_default_in_the_code_location():
    schedules = {s.name: s.default_status for s in defs.schedules}
    sensors = {s.name: s.default_status for s in defs.sensors}
    assert {name: schedules.get(name) for name in ("monthly_cycle_schedule", "housekeeping_schedule")} == \
        dict.fromkeys(("monthly_cycle_schedule", "housekeeping_schedule"), dg.DefaultScheduleStatus.RUNNING)
    assert sensors == {"run_failure_alert": dg.DefaultSensorStatus.RUNNING,
                       "submission_sensor": dg.DefaultSensorStatus.STOPPED}


class Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self):
        Hook.received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
        self.send_response(Hook.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Hook.received, Hook.status = [], 204
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alerts?key={SECRET}"
    server.shutdown()


def failure_context(instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    """A real failed run whose error message carries a secret, as the daemon hands it to the sensor."""
    @dg.asset
    def fetched_returns():
        raise ConnectionError(f"agency API refused https://api.example/returns?access_token={SECRET}")

    result = dg.materialize([fetched_returns], instance=instance, raise_on_error=False,
                            tags={"dagster/partition": "2025-12-01"})
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(sensor_name="run_failure_alert", dagster_event=failure,
                                              dagster_instance=instance, dagster_run=result.dagster_run
                                              ).for_run_failure()


def test_failed_run_writes_an_alert_file_and_posts_it_with_secrets_redacted(tmp_path, monkeypatch, hook):
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", SECRET)
    monkeypatch.setenv(WEBHOOK_ENV, hook)
    instance = dg.DagsterInstance.ephemeral()
    context = failure_context(instance)
    run_failure_alert(context, store=DataStore(data_dir=str(tmp_path / "data")), settings=Settings())
    alerts = list((tmp_path / "data" / "alerts").iterdir())
    assert [p.name for p in alerts] == [f"run_failed_{context.dagster_run.run_id}.json"]
    alert = json.loads(alerts[0].read_text(encoding="utf-8"))
    assert (alert["alert"], alert["partition"], alert["trigger"]) == ("run_failed", "2025-12-01", "manual")
    assert alert["failed_steps"] == [{"step": "fetched_returns", "error": "ConnectionError: agency API refused "
                                      "https://api.example/returns?access_token=[redacted]"}]
    assert Hook.received == [(f"/alerts?key={SECRET}", alert)]
    assert SECRET not in alerts[0].read_text(encoding="utf-8")

    # seen again: replaced, not added
    run_failure_alert(context, store=DataStore(data_dir=str(tmp_path / "data")), settings=Settings())
    assert len(list((tmp_path / "data" / "alerts").iterdir())) == 1


def test_webhook_down_leaves_the_file_alert_and_logs_no_url(tmp_path, monkeypatch, hook, capfd):
    Hook.status = 500
    monkeypatch.setenv(WEBHOOK_ENV, hook)
    context = failure_context(dg.DagsterInstance.ephemeral())
    capfd.readouterr()
    run_failure_alert(context, store=DataStore(data_dir=str(tmp_path / "data")), settings=Settings())
    assert len(list((tmp_path / "data" / "alerts").glob("run_failed_*.json"))) == 1
    logged = "".join(capfd.readouterr())
    assert "alert could not be posted to the webhook (HTTPError)" in logged
    assert SECRET not in logged
    assert "alerts?key" not in logged


def test_the_kpi_marts_carry_the_cycle_day_freshness_policy_evaluated_by_the_daemon():
    graph = defs.resolve_asset_graph()
    policies = {key.to_user_string(): graph.get(key).freshness_policy for key in graph.get_all_asset_keys()
                if graph.get(key).freshness_policy is not None}
    assert set(policies) == {table.name for table in TABLES if table.freshness}  # from the catalogue entries
    assert "kpi_cost_per_transaction" in policies and "kpi_rollups" not in policies
    assert {(p.deadline_cron, p.lower_bound_delta, p.timezone) for p in policies.values()} == \
        {(f"0 12 {CYCLE_DAY} * *", dt.timedelta(hours=12), "Europe/London")}
    for instance_config in ("dagster.yaml", "dagster-postgres.yaml"):  # the daemon evaluates them only when enabled
        assert yaml.safe_load((REPO / "config" / instance_config).read_text())["freshness"] == {"enabled": True}
    assert not [k for k in graph.asset_check_keys if "fresh" in k.name]  # no superseded freshness checks


def test_a_tables_freshness_policy_is_its_catalogue_entrys():
    entry = dataclasses.replace(CATALOGUE["kpi_completion_rate"], freshness=Freshness(hour=9, within_hours=3))
    policy = table_asset(entry).specs_by_key[dg.AssetKey("kpi_completion_rate")].freshness_policy
    assert (policy.deadline_cron, policy.lower_bound_delta, policy.timezone) == \
        (f"0 9 {CYCLE_DAY} * *", dt.timedelta(hours=3), "Europe/London")
    no_freshness = dataclasses.replace(entry, freshness=None)
    assert table_asset(no_freshness).specs_by_key[dg.AssetKey("kpi_completion_rate")].freshness_policy is None


def test_ui_binds_to_loopback_unless_told_otherwise():
    def dev_command(*overrides: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # also when run from `make test`
        out = subprocess.run(["make", "-n", "dev", *overrides], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True).stdout
        return next(line for line in out.splitlines() if "dagster dev" in line)
    assert "--host 127.0.0.1 " in dev_command()
    assert "--host 0.0.0.0 " in dev_command("DAGSTER_UI_HOST=0.0.0.0")
