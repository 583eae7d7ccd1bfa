"""Spark servers for tests, started from the pyspark package on 127.0.0.1 and stopped with everything they started:
a Spark Connect server (the wheel's sbin/start-connect-server.sh, in the foreground), and a standalone cluster (a
master and workers, each executor a JVM of its own) whose workers cannot see a folder of the driver's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyspark

from tests.operations import PROCESS_SECONDS
from tests.pg_cluster import free_port

SPARK_HOME = Path(pyspark.__file__).parent


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return True
    except OSError:
        return False


@contextmanager
def connect_server(folder: Path, token: str | None = None) -> Iterator[int]:
    """A Spark Connect server without TLS on 127.0.0.1 (local[1]; with `token`, clients must send it); its port.
    The server and its JVM are one process group, stopped when the block ends."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOG_DIR": str(folder), "SPARK_PID_DIR": str(folder),
           "SPARK_CONF_DIR": str(folder)}
    if token:
        env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = token
    log = (folder / "connect-server.log").open("ab")
    server = subprocess.Popen(
        ["bash", str(SPARK_HOME / "sbin" / "start-connect-server.sh"), "--wait", "--master", "local[1]",
         "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
         "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
         "--conf", f"spark.local.dir={folder / 'local'}"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + PROCESS_SECONDS
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark Connect server did not start: {folder / 'connect-server.log'}")
            time.sleep(1)
        yield port
    finally:
        _stop(server)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def standalone_cluster(folder: Path, hidden: Path, workers: int = 2) -> Iterator[str]:
    """A standalone master and `workers` workers (1 core, 1 GB each) on 127.0.0.1; its master URL. Each worker, and
    so each executor it starts, runs in a mount namespace of its own where `hidden` (the driver's data folder) is an
    empty tmpfs, as a machine that does not share the driver's disk would see it; each works in its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOG_DIR": str(folder), "SPARK_CONF_DIR": str(folder),
           "SPARK_NO_DAEMONIZE": "1"}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    started = []
    try:
        log = (folder / "master.log").open("ab")
        started.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(free_port())], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        deadline = time.monotonic() + PROCESS_SECONDS
        while not _listening(port):
            if started[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark master did not start: {folder / 'master.log'}")
            time.sleep(1)
        master = f"spark://127.0.0.1:{port}"
        for index in range(workers):
            work = folder / f"worker-{index}"
            work.mkdir()
            command = (f"mount -t tmpfs none {hidden} && exec {spark_class} org.apache.spark.deploy.worker.Worker "
                       f"--host 127.0.0.1 --cores 1 --memory 1g --webui-port {free_port()} --work-dir {work} {master}")
            log = (work / "worker.log").open("ab")
            started.append(subprocess.Popen(["unshare", "--mount", "sh", "-c", command], cwd=work, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        while (folder / "master.log").read_text(errors="replace").count("Registering worker") < workers:
            if any(p.poll() is not None for p in started) or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark workers did not register: {folder}")
            time.sleep(1)
        yield master
    finally:
        for process in reversed(started):
            _stop(process)
