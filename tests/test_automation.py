"""The monthly schedule, the run-failure alert (file and webhook, secrets redacted), the KPI freshness checks, and
the UI bound to loopback: what the daemon runs, tested without it."""

import datetime as dt
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.automation import (CYCLE_DAY, WEBHOOK_ENV, kpi_freshness_checks, monthly_cycle_schedule,
                                  run_failure_alert)
from pipelines.definitions import defs
from pipelines.kpis import KPI_TABLES
from pipelines.registry import load_registry
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
    late = [(a.id, a.return_due_day) for a in load_registry().agencies if a.return_due_day >= CYCLE_DAY]
    assert late == []


def test_schedules_and_sensors_are_on_by_default_in_the_code_location():
    schedules = {s.name: s.default_status for s in defs.schedules}
    sensors = {s.name: s.default_status for s in defs.sensors}
    assert {name: schedules.get(name) for name in ("monthly_cycle_schedule", "housekeeping_schedule")} == \
        dict.fromkeys(("monthly_cycle_schedule", "housekeeping_schedule"), dg.DefaultScheduleStatus.RUNNING)
    assert {name: sensors.get(name) for name in ("run_failure_alert", "kpi_freshness_sensor")} == \
        dict.fromkeys(("run_failure_alert", "kpi_freshness_sensor"), dg.DefaultSensorStatus.RUNNING)


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
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", SECRET)
    monkeypatch.setenv(WEBHOOK_ENV, hook)
    instance = dg.DagsterInstance.ephemeral()
    context = failure_context(instance)
    run_failure_alert(context)
    alerts = list((tmp_path / "data" / "alerts").iterdir())
    assert [p.name for p in alerts] == [f"run_failed_{context.dagster_run.run_id}.json"]
    alert = json.loads(alerts[0].read_text(encoding="utf-8"))
    assert (alert["alert"], alert["partition"], alert["trigger"]) == ("run_failed", "2025-12-01", "manual")
    assert alert["failed_steps"] == [{"step": "fetched_returns", "error": "ConnectionError: agency API refused "
                                      "https://api.example/returns?access_token=[redacted]"}]
    assert Hook.received == [(f"/alerts?key={SECRET}", alert)]
    assert SECRET not in alerts[0].read_text(encoding="utf-8")

    run_failure_alert(context)  # the same failure seen again replaces its alert, it does not add one
    assert len(list((tmp_path / "data" / "alerts").iterdir())) == 1


def test_webhook_down_leaves_the_file_alert_and_logs_no_url(tmp_path, monkeypatch, hook, capfd):
    Hook.status = 500
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(WEBHOOK_ENV, hook)
    context = failure_context(dg.DagsterInstance.ephemeral())
    capfd.readouterr()
    run_failure_alert(context)
    assert len(list((tmp_path / "data" / "alerts").glob("run_failed_*.json"))) == 1
    logged = "".join(capfd.readouterr())
    assert "alert could not be posted to the webhook (HTTPError)" in logged
    assert SECRET not in logged
    assert "alerts?key" not in logged


def test_kpi_freshness_checks_fail_when_never_built_and_pass_once_built():
    instance = dg.DagsterInstance.ephemeral()
    job = dg.Definitions(assets=[dg.AssetSpec(table) for table in KPI_TABLES],
                         asset_checks=kpi_freshness_checks).resolve_implicit_global_asset_job_def()
    before = job.execute_in_process(instance=instance, raise_on_error=False).get_asset_check_evaluations()
    assert {e.asset_key.to_user_string(): e.passed for e in before} == {table: False for table in KPI_TABLES}
    for table in KPI_TABLES:
        instance.report_runless_asset_event(dg.AssetMaterialization(table))
    after = job.execute_in_process(instance=instance, raise_on_error=False).get_asset_check_evaluations()
    assert {e.asset_key.to_user_string(): e.passed for e in after} == {table: True for table in KPI_TABLES}
    assert {e.severity for e in after} == {dg.AssetCheckSeverity.WARN}


def test_freshness_checks_are_evaluated_by_the_daemon_not_inside_the_monthly_run():
    in_job = {k.name for k in defs.resolve_job_def("monthly_cycle").asset_layer.asset_graph.asset_check_keys}
    assert "freshness_check" not in in_job
    assert {k.asset_key.to_user_string() for k in defs.resolve_asset_graph().asset_check_keys
            if k.name == "freshness_check"} == set(KPI_TABLES)


def test_ui_binds_to_loopback_unless_told_otherwise():
    def dev_command(*overrides: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # also when run from `make test`
        out = subprocess.run(["make", "-n", "dev", *overrides], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True).stdout
        return next(line for line in out.splitlines() if "dagster dev" in line)
    assert "--host 127.0.0.1 " in dev_command()
    assert "--host 0.0.0.0 " in dev_command("DAGSTER_UI_HOST=0.0.0.0")
