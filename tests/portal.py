"""Helpers for the portal tests: the portal served by its own command (`python -m pipelines portal serve`, as
`make portal` starts it) on a free loopback port, accounts and tokens made by its command line, and a signed-in
HTTP client."""

import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import requests
import yaml

from pipelines.portal.store import Store
from tests.operations import PROCESS_SECONDS, REPO, new_instance_home

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# A catalogue of two services and two returns of the first: one good, one with a row broken four ways
CATALOGUE = """service_id,service_name,agency_id,department,category,customer_type,channels_offered,high_volume
REV-001,File a tax return,revenue,Treasury,tax,citizen,online;paper,true
PAS-001,Renew a passport,passports,Home Affairs,passports,citizen,online;phone,true
"""
HEADER = "service_id,month,channel,transactions_started,transactions_completed\n"
GOOD = (HEADER + "REV-001,2025-06-01,online,1000,950\nREV-001,2025-06-01,paper,200,180\n").encode()
BAD = (HEADER + "REV-001,2025-06-01,online,1000,1100\nREV-001,2025-06-01,phone,10,5\n"
       "REV-999,2025-06-01,paper,5,5\nREV-001,2025-06-01,paper,abc,5\n").encode()
# The bad return's feedback: row, service, column, value, rule, what to fix
BAD_ROWS = [["1", "REV-001", "transactions_completed", "1100", "completed_above_started",
             "more transactions completed than started"],
            ["2", "REV-001", "channel", "phone", "channel_not_offered",
             "the catalogue says the service does not offer this channel"],
            ["3", "REV-999", "service_id", "REV-999", "unknown_service", "service_id is not in the service catalogue"],
            ["4", "REV-001", "transactions_started", "abc", "not_a_number",
             "transactions_started is not a whole number"]]


def landed_with_catalogue(root: Path) -> Path:
    """root, with the catalogue above landed in root/data/landing (as the central team drops it)."""
    (root / "data" / "landing" / "catalogue").mkdir(parents=True)
    (root / "data" / "landing" / "catalogue" / "services.csv").write_text(CATALOGUE)
    return root


@dataclass(frozen=True)
class Portal:
    url: str
    data: Path  # the pipeline's data folder: landing/, published/
    portal_dir: Path  # the portal's store, uploads and session key
    log: Path  # everything the server printed
    env: dict

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "pipelines", "portal", *args], cwd=REPO, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=PROCESS_SECONDS)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def add_user(self, email: str, role: str = "agency", agency_id: str | None = None) -> None:
        """An account made by the store's own function (the command line's is tested once: it starts Python)."""
        Store(self.portal_dir / "portal.sqlite").add_account(email, PASSWORD, role, agency_id)

    def add_token(self, agency_id: str) -> str:
        return Store(self.portal_dir / "portal.sqlite").add_token(agency_id, "test")

    def forget(self) -> None:
        """Back to the state of a portal just started, its accounts kept: no upload kept or recorded, no token, no
        failed sign-in, no landing folder. The server keeps nothing in memory (sessions live in signed cookies), so
        one server can serve a module's tests, each as if it were new."""
        with contextlib.closing(sqlite3.connect(self.portal_dir / "portal.sqlite")) as con, con:
            tables = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'accounts' AND "
                                 "name NOT LIKE 'sqlite_%'").fetchall()
            for (name,) in tables:
                con.execute(f'DELETE FROM "{name}"')  # a name from the store's own schema, not from data
        for folder in (self.data / "landing", self.portal_dir / "uploads"):
            if folder.exists():
                shutil.rmtree(folder)

    def session(self, email: str, password: str = PASSWORD) -> requests.Session:
        """A client signed in as `email`."""
        client = requests.Session()
        response = sign_in(client, self.url, email, password)
        assert response.status_code == 303 and response.headers["location"] == "/returns", response.text
        return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csrf_of(html: str) -> str:
    return CSRF.search(html).group(1)


def sign_in(client: requests.Session, url: str, email: str, password: str) -> requests.Response:
    token = csrf_of(client.get(f"{url}/sign-in").text)
    return client.post(f"{url}/sign-in", data={"csrf_token": token, "email": email, "password": password},
                       allow_redirects=False)


def config_with_limit(folder: Path, max_file_bytes: int) -> Path:
    """A copy of config/ whose files.max_file_bytes is `max_file_bytes`."""
    shutil.copytree(REPO / "config", folder)
    limits = yaml.safe_load((folder / "limits.yaml").read_text())
    limits["files"]["max_file_bytes"] = max_file_bytes
    (folder / "limits.yaml").write_text(yaml.safe_dump(limits))
    return folder


@contextlib.contextmanager
def serving(root: Path, config_dir: Path = REPO / "config"):
    """The portal served from its command while the block runs, over root/data (its own folder: data/portal), with
    the Dagster instance of root/dagster (the local instance's configuration) as the pipeline's."""
    port, log = free_port(), root / "portal.log"
    env = {**os.environ, "PIPELINE_DATA_DIR": str(root / "data"), "PIPELINE_CONFIG_DIR": str(config_dir),
           "GX_ANALYTICS_ENABLED": "false", "DAGSTER_HOME": str(new_instance_home(root / "dagster"))}
    for name in ("PORTAL_SECRET_KEY", "PORTAL_DIR"):  # the portal's folder is data/portal, where a run reads it
        env.pop(name, None)
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "pipelines", "portal", "serve", "--port", str(port)],
                                   cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    portal = Portal(f"http://127.0.0.1:{port}", root / "data", root / "data" / "portal", log, env)
    try:
        deadline = time.monotonic() + PROCESS_SECONDS  # only turns a server that never starts into a failure
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{portal.url}/sign-in", timeout=PROCESS_SECONDS).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield portal
    finally:
        process.terminate()
        process.wait(timeout=PROCESS_SECONDS)


class _Tables(HTMLParser):
    """The cells' text of every <table id=...> of a page, row by row (header rows left out)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.table, self.row, self.cell = None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.table = dict(attrs).get("id")
            self.tables.setdefault(self.table, [])
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.row:
                self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None


def table(html: str, table_id: str) -> list[list[str]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables.get(table_id, [])


def text_of(html: str, element_id: str) -> str:
    """The text of the element with that id (one without nested elements of its own tag)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split()) if found else ""
