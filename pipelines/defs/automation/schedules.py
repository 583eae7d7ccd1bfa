"""The monthly schedule, run by the Dagster daemon (`dagster dev`, or
`dagster-daemon run` in production)."""

import datetime as dt

import dagster as dg

from pipelines.lib.partitions import CYCLE_DAY, TIMEZONE


@dg.schedule(job_name="monthly_cycle", cron_schedule=f"0 6 {CYCLE_DAY} * *", execution_timezone=TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="The regular cycle: the month just ended, once every agency's return is due.")
def monthly_cycle_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    this_month = context.scheduled_execution_time.date().replace(day=1)
    month = (this_month - dt.timedelta(days=1)).replace(day=1)
    return dg.RunRequest(run_key=month.isoformat(), partition_key=month.isoformat(),
                         tags={"service_performance/trigger": "schedule"})
