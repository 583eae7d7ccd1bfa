"""A throwaway PostgreSQL cluster for tests: initdb in a temporary folder, started on 127.0.0.1 and a free port.

PostgreSQL refuses to run as root, so under root (CI) the server runs as the `postgres` user that Debian's package
creates. Password authentication is on (scram-sha-256), so the password the tests give Dagster is really used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psycopg2

from tests.operations import PROCESS_SECONDS


def postgres_bin() -> Path:
    """The folder holding initdb and pg_ctl: $PG_BIN, else the newest Debian PostgreSQL, else what PATH finds."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL is not installed (no initdb): `apt-get install -y postgresql` (see .ci/run)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    password: str
    db_name: str
    folder: Path

    def env(self) -> dict[str, str]:
        """The variables config/dagster-postgres.yaml reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": self.db_name,
                "DAGSTER_PG_USER": self.user, "DAGSTER_PG_PASSWORD": self.password}

    def connect(self):
        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=self.db_name)


@contextmanager
def throwaway_cluster(password: str, user: str = "dagster", db_name: str = "dagster") -> Iterator[Cluster]:
    """Start a new cluster, yield its connection settings, then stop it and delete every file it wrote."""
    bin_dir = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="pg-cluster-"))
    as_server_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    password_file = folder / "password"
    password_file.write_text(password, encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres", "postgres")
    data, port = folder / "data", free_port()

    def run(*args: str) -> None:
        # pg_ctl's own limit (-t) comes first, so that a slow start or stop fails with pg_ctl's reason
        subprocess.run([*as_server_user, *args], check=True, capture_output=True, timeout=PROCESS_SECONDS + 60)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=scram-sha-256",
            f"--pwfile={password_file}", "--encoding=UTF8", "--locale=C")
        password_file.unlink()
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
            "-t", str(PROCESS_SECONDS), "-o", f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={folder} -c fsync=off -c max_connections=200", "start")
        try:
            admin = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="postgres")
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {db_name}")
            admin.close()
            yield Cluster("127.0.0.1", port, user, password, db_name, folder)
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", str(PROCESS_SECONDS), "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
