"""The run-failure alert: a file per failed run under data/alerts/, posted to a webhook when one is set, with every
secret redacted."""

import datetime as dt
import json
import os
import urllib.request
from pathlib import Path

import dagster as dg

from pipelines.lib.config import ConfigError
from pipelines.lib.files import write_atomically
from pipelines.lib.resources import DataStore, Settings

WEBHOOK_ENV = "PIPELINE_ALERT_WEBHOOK_URL"
# Environment variables whose values must never be written anywhere (alerts included), besides agency credentials.
SECRET_ENVS = ("DAGSTER_PG_PASSWORD", WEBHOOK_ENV)


def credential_names(settings: Settings) -> list[str]:
    """The environment variables the registry names as agencies' credentials; none when the configuration does not
    hold (a run stopped by it fails before any agency is fetched, and its message repeats no value)."""
    try:
        return [a.credential_env for a in settings.config.agencies if a.credential_env]
    except ConfigError:
        return []


def secret_values(credential_envs: list[str]) -> list[str]:
    """The values of every secret in the environment: agencies' credentials and the instance's own."""
    names = {*SECRET_ENVS, *credential_envs}
    return [os.environ[name] for name in names if len(os.environ.get(name, "")) >= 8]


def redact(text: str, credential_envs: list[str]) -> str:
    for secret in secret_values(credential_envs):
        text = text.replace(secret, "[redacted]")
    return text


def alert_record(run: dg.DagsterRun, message: str, failed_steps: list[tuple[str, str]],
                 credential_envs: list[str]) -> dict:
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
    }), credential_envs))


def root_cause(error) -> str:
    """The message of the error that started it all (Dagster wraps it in its own)."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def first_cause(error) -> str:
    """The error that started it all, on one line."""
    return root_cause(error).splitlines()[0]


def write_alert(alerts_dir: Path, record: dict) -> Path:
    """One file per failed run (re-raising the same alert replaces it), written whole: temp file, then rename."""
    text = json.dumps(record, indent=2) + "\n"
    return write_atomically(alerts_dir / f"run_failed_{record['run_id']}.json",
                            lambda temporary: temporary.write_text(text, encoding="utf-8"))


def post_alert(url: str, record: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(record).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@dg.run_failure_sensor(name="run_failure_alert", default_status=dg.DefaultSensorStatus.RUNNING,
                       minimum_interval_seconds=15,
                       description="Writes data/alerts/run_failed_<run>.json for every failed run, and posts it to "
                                   f"the webhook in ${WEBHOOK_ENV} when that is set.")
def run_failure_alert(context: dg.RunFailureSensorContext, store: DataStore, settings: Settings) -> None:
    failed_steps = [(event.step_key, first_cause(event.event_specific_data.error))
                    for event in context.get_step_failure_events()
                    if event.event_specific_data and event.event_specific_data.error]
    message = context.failure_event.message or ""
    run_error = getattr(context.failure_event.event_specific_data, "error", None)
    if run_error is not None and not failed_steps:  # stopped before any step (a configuration problem): say why
        message += "\n" + root_cause(run_error)
    record = alert_record(context.dagster_run, message, failed_steps, credential_names(settings))
    path = write_alert(store.root / "alerts", record)
    context.log.info(f"alert written to {path}")
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        try:
            context.log.info(f"alert posted to the webhook: HTTP {post_alert(url, record)}")
        except OSError as error:  # the file alert stands; the URL itself is a secret and is not logged
            context.log.warning(f"alert could not be posted to the webhook ({type(error).__name__})")
