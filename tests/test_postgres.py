"""The production deployment: PostgreSQL-backed Dagster runs month partitions in parallel, one warehouse writer at
a time, raises an alert for a failed run, and writes the planted credential nowhere."""

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import pytest

from pipelines.defs.automation.alerts import WEBHOOK_ENV
from examples.generator import generate
from pipelines.lib.config import PROJECT_CONFIG_DIR, load_config
from pipelines.definitions import defs
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore
from tests.conftest import published_checksums, run_graph
from tests.operations import REPO, new_instance_home, warehouse_digest
from tests.pg_cluster import Cluster, free_port, throwaway_cluster

TOKEN = f"planted-{secrets.token_hex(16)}"  # the database password, in the webhook URL, and every agency credential
MONTHS = ["2025-07-01", "2025-08-01", "2025-09-01"]
BIN = Path(sys.executable).parent  # the virtual environment's bin/, where its `dagster` commands are
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class Webhook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@dataclass
class Deployment:
    cluster: Cluster
    store: DataStore
    home: Path
    logs: Path
    reference: DataStore  # the same landing, one in-process run
    failing_run_id: str
    hook_requests: list


def rows(cluster: Cluster, query: str, params=()) -> list[tuple]:
    with cluster.connect() as con, con.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def background(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop a process started by `background` and all it started (its process group); never raises, so a
    failure to stop one does not leave the others running."""
    for sig, seconds in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(seconds)


# Deadlines come from the work, measured on this machine while the test runs: the reference run (the three months in
# one process) and the code server's start (what a process pays to import the code location); no command is more work
# than the reference run. The runs get no total time: their warehouse steps take about 140 turns with the other runs'
# steps, each handed over when Dagster next checks (a back-off of up to 15 s), which made them take 16-27 times the
# reference run at load 12-14. They fail instead when nothing moves (no step ends, no run changes status, no alert
# arrives) for longer than one step, one start and one hand-over. Load can rise after the measurement (at load 8-18 a
# 2-core machine ran the suite 5-7 times slower than quiet), so each wait is ten times that, never under five
# minutes; a failure says which run and step were slow, read from Dagster's run storage.
SLACK, FLOOR_SECONDS, HAND_OVER_SECONDS = 10, 300, 15


def deadline_for(expected_seconds: float) -> float:
    return max(FLOOR_SECONDS, SLACK * expected_seconds)


def last_lines(log: Path, count: int = 5) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-count:])


def finish(process: subprocess.Popen, log: Path, seconds: float) -> int:
    """The exit status of a process started by `background`, or a failure naming it if it runs past `seconds`."""
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(Path(a).name for a in process.args[:3])}` still running after {seconds:.0f} s; "
                    f"{log.name} ends:\n{last_lines(log)}")


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float) -> float:
    """Seconds until the process answers on the port; a failure if it exits first or does not answer in time."""
    started = time.monotonic()
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return time.monotonic() - started
        assert process.poll() is None, f"exited with status {process.returncode}; {log.name} ends:\n{last_lines(log)}"
        assert time.monotonic() - started < seconds, \
            f"no answer on port {port} after {seconds:.0f} s; {log.name} ends:\n{last_lines(log)}"
        time.sleep(0.5)


def progress(cluster: Cluster) -> str:
    """Where each run of the deployment is, from Dagster's run storage: its status and how long it has taken, its
    slowest finished step, the step it is in and for how long, and its steps queued for the warehouse pool."""
    (now,) = rows(cluster, "SELECT now() AT TIME ZONE 'UTC'")[0]
    runs = rows(cluster, "SELECT runs.run_id, status, coalesce(partition.value, '-'), start_time, end_time FROM runs "
                         "LEFT JOIN run_tags partition ON partition.run_id = runs.run_id "
                         "AND partition.key = 'dagster/partition' WHERE pipeline_name = 'monthly_cycle' "
                         "ORDER BY runs.create_timestamp")
    steps: dict[str, dict[str, list]] = {run_id: {} for run_id, *_ in runs}
    for run_id, step, kind, at in rows(cluster, "SELECT run_id, step_key, dagster_event_type, timestamp "
                                                "FROM event_logs WHERE dagster_event_type IN "
                                                "('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') ORDER BY id"):
        steps.setdefault(run_id, {}).setdefault(step, [None, None])[kind != "STEP_START"] = at
    pool: dict[str, list] = {}  # steps of each run queued for the pool's slot: given it or still waiting
    for run_id, step, given, seconds in rows(cluster, "SELECT run_id, step_key, assigned_timestamp IS NOT NULL, "
                                                      "extract(epoch FROM localtimestamp - "
                                                      "coalesce(assigned_timestamp, create_timestamp)) "
                                                      "FROM pending_steps WHERE concurrency_key = %s ORDER BY id",
                                             (WAREHOUSE_POOL,)):
        pool.setdefault(run_id, []).append((step, given, float(seconds)))
    lines = []
    for run_id, status, partition, start, end in runs:
        took = ("not started" if start is None else
                f"{(end or now.replace(tzinfo=dt.timezone.utc).timestamp()) - start:.0f} s"
                + ("" if end else " so far"))
        done = {step: (e - s).total_seconds() for step, (s, e) in steps[run_id].items() if s and e}
        running = [f"in {step} for {(now - s).total_seconds():.0f} s" for step, (s, e) in steps[run_id].items()
                   if s and not e]
        running += [f"{step} given the pool slot {seconds:.0f} s ago, not started" if given
                    else f"{step} waiting for the pool slot for {seconds:.0f} s"
                    for step, given, seconds in pool.get(run_id, []) if step not in steps[run_id]]
        slowest = max(done, key=done.get, default=None)
        lines.append(f"  run {run_id[:8]} ({partition}): {status}, {took}; {len(done)} steps ended"
                     + (f", slowest {slowest} {done[slowest]:.0f} s" if slowest else "")
                     + "".join(f"; {r}" for r in running))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    store = DataStore(data_dir=str(root / "data"))
    generate(store.landing, start="2025-07", months=4, services_per_agency=1)  # the runs cover the first three
    reference = DataStore(data_dir=str(root / "reference"))
    shutil.copytree(store.landing, reference.landing)
    started = time.monotonic()
    assert run_graph(reference, MONTHS[0], MONTHS[-1]).success
    work_seconds = time.monotonic() - started
    command_seconds = deadline_for(work_seconds)
    home, logs = new_instance_home(root / "home", "dagster-postgres.yaml"), root / "logs"
    logs.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Webhook.received = []
    with throwaway_cluster(password=TOKEN) as cluster:
        env = {**os.environ, **cluster.env(), "DAGSTER_HOME": str(home), "PIPELINE_DATA_DIR": str(store.root),
               "PIPELINE_CONFIG_DIR": str(PROJECT_CONFIG_DIR),
               WEBHOOK_ENV: f"http://127.0.0.1:{server.server_port}/alerts?token={TOKEN}",
               **{a.credential_env: TOKEN for a in load_config(PROJECT_CONFIG_DIR).agencies if a.credential_env}}
        # Dagster's tables, created once before anything starts (processes starting together would race).
        subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=REPO, env=env, check=True,
                       capture_output=True, timeout=command_seconds)
        subprocess.run([str(BIN / "dagster"), "instance", "concurrency", "set", WAREHOUSE_POOL, "1"], cwd=REPO,
                       env=env, check=True, capture_output=True, timeout=command_seconds)
        # As deployed: one code server (it also starts the run workers), the daemon and the CLI use it.
        port = free_port()
        code_server = background([str(BIN / "dagster"), "api", "grpc", "-m", "pipelines.definitions", "-d", str(REPO),
                                  "--host", "127.0.0.1", "--port", str(port), "--location-name", "service_performance"],
                                 env, logs / "code_server.log")
        workspace = root / "workspace.yaml"
        workspace.write_text(f"load_from:\n  - grpc_server: {{host: 127.0.0.1, port: {port}, "
                             f"location_name: service_performance}}\n", encoding="utf-8")
        daemon = background([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs / "daemon.log")
        launches = []
        try:
            start_seconds = wait_for_port(port, code_server, logs / "code_server.log", command_seconds)
            failing_run_id = "f0000000-0000-4000-8000-000000000001"
            launches += [
                background([str(BIN / "dagster"), "job", "backfill", "-w", str(workspace), "-j", "monthly_cycle",
                            "--from", MONTHS[0], "--to", MONTHS[-1], "--noprompt"], env, logs / "backfill.log"),
                # A run whose data folder cannot exist (a volume not mounted): it fails in its first step.
                background([str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "monthly_cycle",
                            "--run-id", failing_run_id, "--tags", json.dumps({"dagster/partition": MONTHS[0]}),
                            "--config-json",
                            json.dumps({"resources": {"store": {"config": {"data_dir": "/dev/null/data"}}}})],
                           env, logs / "launch.log"),
            ]
            launch_logs = [logs / "backfill.log", logs / "launch.log"]
            assert [finish(p, log, command_seconds) for p, log in zip(launches, launch_logs)] == [0, 0], \
                "\n".join(f"{log.name} ends:\n{last_lines(log)}" for log in launch_logs)
            alert = store.root / "alerts" / f"run_failed_{failing_run_id}.json"
            still_seconds = deadline_for(work_seconds + start_seconds + HAND_OVER_SECONDS)
            started = moved = time.monotonic()
            seen = None
            while True:
                statuses = sorted(s for (s,) in rows(cluster, "SELECT status FROM runs "
                                                              "WHERE pipeline_name = 'monthly_cycle'"))
                if len(statuses) == len(MONTHS) + 1 and set(statuses) <= FINISHED and alert.exists() \
                        and Webhook.received:
                    break
                assert daemon.poll() is None, (f"the daemon exited with status {daemon.returncode}; daemon.log "
                                               f"ends:\n{last_lines(logs / 'daemon.log')}")
                (ended,) = rows(cluster, "SELECT count(*) FROM event_logs "
                                         "WHERE dagster_event_type IN ('STEP_SUCCESS', 'STEP_FAILURE')")[0]
                if (state := (statuses, ended, alert.exists(), len(Webhook.received))) != seen:
                    seen, moved = state, time.monotonic()
                assert time.monotonic() - moved < still_seconds, (
                    f"nothing moved for {still_seconds:.0f} s ({SLACK} times one step, one start and one hand-over: "
                    f"the reference run's {work_seconds:.0f} s, the code server's {start_seconds:.0f} s, "
                    f"{HAND_OVER_SECONDS} s; at least {FLOOR_SECONDS} s), {time.monotonic() - started:.0f} s after "
                    f"the launch:\n{progress(cluster)}\n  alert file {'written' if alert.exists() else 'not written'}"
                    f"; {len(Webhook.received)} webhook requests")
                time.sleep(2)
            yield Deployment(cluster, store, home, logs, reference, failing_run_id, Webhook.received)
        finally:
            for process in [*launches, daemon, code_server]:
                stop(process)
            server.shutdown()


def test_every_step_that_touches_the_warehouse_is_in_its_pool():
    job = defs.resolve_job_def("monthly_cycle")
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert len(pools) >= 30
    # but the Spark engine's cluster job, which reads and writes only files (compute apart from the load)
    assert {name: pool for name, pool in pools.items() if pool != WAREHOUSE_POOL} == {"stg_extract_spark_outputs": None}


def backfill_runs(d: Deployment) -> list[tuple]:
    """(run_id, status, partition, start, end) of the backfill's runs, read from PostgreSQL."""
    return rows(d.cluster, "SELECT runs.run_id, status, partition.value, start_time, end_time FROM runs "
                           "JOIN run_tags partition ON partition.run_id = runs.run_id "
                           "AND partition.key = 'dagster/partition' "
                           "WHERE runs.run_id IN (SELECT run_id FROM run_tags WHERE key = 'dagster/backfill') "
                           "ORDER BY partition.value")


@pytest.mark.postgres
def test_each_month_ran_as_its_own_run_and_postgres_holds_runs_and_materialisations(deployment):
    runs = backfill_runs(deployment)
    assert [(partition, status) for _, status, partition, _, _ in runs] == [(m, "SUCCESS") for m in MONTHS]
    materialised = rows(deployment.cluster, "SELECT asset_key, partition, count(*) FROM event_logs "
                                            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                                            "AND asset_key IN ('[\"raw_agency_returns\"]', '[\"pub_open_data\"]') "
                                            "GROUP BY asset_key, partition ORDER BY asset_key, partition")
    assert materialised == [('["pub_open_data"]', None, len(MONTHS)),
                            *[('["raw_agency_returns"]', m, 1) for m in MONTHS]]
    assert {key for (key,) in rows(deployment.cluster, "SELECT asset_key FROM asset_keys")} >= {
        '["kpi_cost_per_transaction"]', '["stg_transactions"]', '["fct_service_month"]'}


@pytest.mark.postgres
def test_runs_overlapped_but_warehouse_steps_took_turns(deployment):
    runs = backfill_runs(deployment)
    spans = sorted((start, end) for _, _, _, start, end in runs)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # runs in parallel
    events = rows(deployment.cluster, "SELECT run_id, step_key, dagster_event_type, timestamp FROM event_logs "
                                      "WHERE dagster_event_type IN ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') "
                                      "AND run_id IN %s", (tuple(r[0] for r in runs),))
    steps: dict[tuple, list] = {}
    for run_id, step, kind, at in events:
        steps.setdefault((run_id, step), [None, None])[kind != "STEP_START"] = at
    # (the Spark engine's cluster job step holds no slot: it touches only files, and other steps go on meanwhile)
    intervals = sorted((start, end, run_id) for (run_id, step), (start, end) in steps.items()
                       if step != "stg_extract_spark_outputs")
    assert len(intervals) >= 3 * len(MONTHS)
    overlapping = [(a, b) for a, b in zip(intervals, intervals[1:]) if b[0] < a[1]]
    assert overlapping == []  # every other step holds the warehouse pool's one slot: no two at once, in any run


@pytest.mark.postgres
def test_parallel_runs_give_exactly_the_figures_of_one_run(deployment):
    assert published_checksums(deployment.store) == published_checksums(deployment.reference)
    assert warehouse_digest(deployment.store.warehouse) == warehouse_digest(deployment.reference.warehouse)


@pytest.mark.postgres
def test_failed_run_is_alerted_in_a_file_and_on_the_webhook(deployment):
    (status,) = rows(deployment.cluster, "SELECT status FROM runs WHERE run_id = %s", (deployment.failing_run_id,))
    assert status == ("FAILURE",)
    alert = json.loads((deployment.store.root / "alerts" /
                        f"run_failed_{deployment.failing_run_id}.json").read_text(encoding="utf-8"))
    assert (alert["alert"], alert["job"], alert["partition"]) == ("run_failed", "monthly_cycle", MONTHS[0])
    assert alert["failed_steps"] and all("Not a directory" in step["error"] for step in alert["failed_steps"])
    path, posted = deployment.hook_requests[0]
    assert path == f"/alerts?token={TOKEN}"  # the URL (and the token in it) came from the environment
    assert posted == alert


@pytest.mark.postgres
def test_planted_credential_is_written_nowhere(deployment):
    outputs = [*deployment.home.rglob("*"), *deployment.logs.rglob("*"), *deployment.store.root.rglob("*"),
               deployment.cluster.folder / "server.log"]
    files = [p for p in outputs if p.is_file()]
    assert len(files) > 50
    assert [str(p) for p in files if TOKEN.encode() in p.read_bytes()] == []
    tables = [t for (t,) in rows(deployment.cluster, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert {"runs", "event_logs", "run_tags", "jobs", "instigators"} <= set(tables)
    for table in tables:
        assert rows(deployment.cluster, f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s',
                    (f"%{TOKEN}%",)) == [(0,)], table
    with pytest.raises(psycopg2.OperationalError):  # the token is the password really in use
        psycopg2.connect(host=deployment.cluster.host, port=deployment.cluster.port, user=deployment.cluster.user,
                         password="not-the-token", dbname=deployment.cluster.db_name)
