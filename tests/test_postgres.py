"""The production deployment: PostgreSQL-backed Dagster runs month partitions in parallel, one warehouse writer at
a time, raises an alert for a failed run, and writes the planted credential nowhere."""

import contextlib
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


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 300
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    store = DataStore(data_dir=str(root / "data"))
    generate(store.landing, start="2025-07", months=4, services_per_agency=1)  # the runs cover the first three
    reference = DataStore(data_dir=str(root / "reference"))
    shutil.copytree(store.landing, reference.landing)
    assert run_graph(reference, MONTHS[0], MONTHS[-1]).success
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
                       capture_output=True, timeout=300)
        subprocess.run([str(BIN / "dagster"), "instance", "concurrency", "set", WAREHOUSE_POOL, "1"], cwd=REPO,
                       env=env, check=True, capture_output=True, timeout=300)
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
            wait_for_port(port, code_server, logs / "code_server.log")
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
            assert [p.wait(300) for p in launches] == [0, 0], (logs / "backfill.log").read_text()[-3000:]
            alert = store.root / "alerts" / f"run_failed_{failing_run_id}.json"
            deadline = time.monotonic() + 420
            while True:
                statuses = [s for (s,) in rows(cluster, "SELECT status FROM runs WHERE pipeline_name = 'monthly_cycle'")]
                if len(statuses) == len(MONTHS) + 1 and set(statuses) <= FINISHED and alert.exists() \
                        and Webhook.received:
                    break
                assert daemon.poll() is None, (logs / "daemon.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"runs {statuses}\n{(logs / 'daemon.log').read_text()[-3000:]}"
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
    assert {name: pool for name, pool in pools.items() if pool != WAREHOUSE_POOL} == {}


def backfill_runs(d: Deployment) -> list[tuple]:
    """(run_id, status, partition, start, end) of the backfill's runs, read from PostgreSQL."""
    return rows(d.cluster, "SELECT runs.run_id, status, partition.value, start_time, end_time FROM runs "
                           "JOIN run_tags partition ON partition.run_id = runs.run_id "
                           "AND partition.key = 'dagster/partition' "
                           "WHERE runs.run_id IN (SELECT run_id FROM run_tags WHERE key = 'dagster/backfill') "
                           "ORDER BY partition.value")


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
    intervals = sorted((start, end, run_id) for (run_id, _), (start, end) in steps.items())
    assert len(intervals) >= 3 * len(MONTHS)
    overlapping = [(a, b) for a, b in zip(intervals, intervals[1:]) if b[0] < a[1]]
    assert overlapping == []  # every step holds the warehouse pool's one slot: no two at once, in any run


def test_parallel_runs_give_exactly_the_figures_of_one_run(deployment):
    assert published_checksums(deployment.store) == published_checksums(deployment.reference)
    assert warehouse_digest(deployment.store.warehouse) == warehouse_digest(deployment.reference.warehouse)


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
