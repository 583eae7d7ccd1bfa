"""Automation: the monthly schedule, the run-failure alert and the freshness checks on the KPI marts.

Run by the Dagster daemon (`dagster dev`, or `dagster-daemon run` in production). The submission sensor, which
re-runs an agency's months when a return arrives or is corrected, lives with the sources (pipelines/sources.py).
"""


import datetime as dt
import json
import os
import urllib.request
from pathlib import Path

import dagster as dg

from pipelines.kpis import KPI_TABLES
from pipelines.registry import load_registry
from pipelines.resources import data_store_from_env

TIMEZONE = "Europe/London"
# Every agency's return is due by the 20th of the following month (config/sources.yaml, return_due_day), so the
# regular cycle runs on the 21st, early, for the month just ended.
CYCLE_DAY = 21
WEBHOOK_ENV = "PIPELINE_ALERT_WEBHOOK_URL"
# Environment variables whose values must never be written anywhere (alerts included), besides agency credentials.
SECRET_ENVS = ("DAGSTER_PG_PASSWORD", WEBHOOK_ENV)


@dg.schedule(job_name="monthly_cycle", cron_schedule=f"0 6 {CYCLE_DAY} * *", execution_timezone=TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="The regular cycle: the month just ended, once every agency's return is due.")
def monthly_cycle_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    this_month = context.scheduled_execution_time.date().replace(day=1)
    month = (this_month - dt.timedelta(days=1)).replace(day=1)
    return dg.RunRequest(run_key=month.isoformat(), partition_key=month.isoformat(),
                         tags={"service_performance/trigger": "schedule"})


# The KPI marts must have been rebuilt by noon on cycle day, by that morning's run or a later one.
kpi_freshness_checks = dg.build_last_update_freshness_checks(
    assets=list(KPI_TABLES), deadline_cron=f"0 12 {CYCLE_DAY} * *", lower_bound_delta=dt.timedelta(hours=12),
    timezone=TIMEZONE, severity=dg.AssetCheckSeverity.WARN)
kpi_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=kpi_freshness_checks, name="kpi_freshness_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING)


def secret_values() -> list[str]:
    """The values of every secret in the environment: agencies' credentials and the instance's own."""
    names = {*SECRET_ENVS, *(a.credential_env for a in load_registry().agencies if a.credential_env)}
    return [os.environ[name] for name in names if len(os.environ.get(name, "")) >= 8]


def redact(text: str) -> str:
    for secret in secret_values():
        text = text.replace(secret, "[redacted]")
    return text


def alert_record(run: dg.DagsterRun, message: str, failed_steps: list[tuple[str, str]]) -> dict:
    """What a person (or a mail relay) needs to act on a failed run, with no secret in it."""
    return json.loads(redact(json.dumps({
        "alert": "run_failed",
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": run.tags.get("dagster/partition"),
        "partition_range": [run.tags.get("dagster/asset_partition_range_start"),
                            run.tags.get("dagster/asset_partition_range_end")],
        "trigger": run.tags.get("service_performance/trigger", "manual"),
        "message": message,
        "failed_steps": [{"step": step, "error": error} for step, error in failed_steps],
        "raised_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    })))


def first_cause(error) -> str:
    """The error that started it all (Dagster wraps it in its own), on one line."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]


def write_alert(alerts_dir: Path, record: dict) -> Path:
    """One file per failed run (re-raising the same alert replaces it), written whole: temp file, then rename."""
    alerts_dir.mkdir(parents=True, exist_ok=True)
    target = alerts_dir / f"run_failed_{record['run_id']}.json"
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


def post_alert(url: str, record: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(record).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@dg.run_failure_sensor(name="run_failure_alert", default_status=dg.DefaultSensorStatus.RUNNING,
                       minimum_interval_seconds=15,
                       description="Writes data/alerts/run_failed_<run>.json for every failed run, and posts it to "
                                   f"the webhook in ${WEBHOOK_ENV} when that is set.")
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    failed_steps = [(event.step_key, first_cause(event.event_specific_data.error))
                    for event in context.get_step_failure_events()
                    if event.event_specific_data and event.event_specific_data.error]
    record = alert_record(context.dagster_run, context.failure_event.message or "", failed_steps)
    path = write_alert(data_store_from_env().root / "alerts", record)
    context.log.info(f"alert written to {path}")
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        try:
            context.log.info(f"alert posted to the webhook: HTTP {post_alert(url, record)}")
        except OSError as error:  # the file alert stands; the URL itself is a secret and is not logged
            context.log.warning(f"alert could not be posted to the webhook ({type(error).__name__})")


schedules = [monthly_cycle_schedule]
sensors = [run_failure_alert, kpi_freshness_sensor]
