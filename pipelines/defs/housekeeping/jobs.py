"""The housekeeping job: the retention policy applied monthly by the daemon."""

import dagster as dg

from pipelines.defs.housekeeping.retention import apply_retention, retention_policy
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings


@dg.op(pool=WAREHOUSE_POOL, description="Applies config/housekeeping.yaml: old runs, superseded raw copies, leftovers.")
def apply_retention_policy(context: dg.OpExecutionContext, store: DataStore, settings: Settings) -> None:
    report = apply_retention(store, context.instance, retention_policy(settings.config.housekeeping),
                             storage=settings.config.registry.spark.storage)
    context.log.info("deleted: " + ", ".join(f"{len(items)} {what}" for what, items in report.items()))


@dg.job(description="Retention policy (config/housekeeping.yaml). Raw submissions in force are never deleted.")
def housekeeping():
    apply_retention_policy()


housekeeping_schedule = dg.ScheduleDefinition(
    name="housekeeping_schedule", job=housekeeping, cron_schedule="0 3 1 * *", execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING)
