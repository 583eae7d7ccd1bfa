"""Spark servers for tests, started from the pyspark package on 127.0.0.1 and stopped with everything they started:
a Spark Connect server (the wheel's sbin/start-connect-server.sh, in the foreground)."""

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
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
