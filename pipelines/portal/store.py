"""The portal's own store, one SQLite file apart from the warehouse (a pipeline run holding the warehouse's lock never
blocks an upload, and a portal that is down never blocks a run): accounts with Argon2 password hashes, agencies'
API tokens as sha256 digests, every upload with the feedback shown and, once submitted, its audit record, and the
failed sign-ins the rate limit counts."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import secrets
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["agency", "central", "admin"]
ROLES: tuple[Role, ...] = ("agency", "central", "admin")

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    email TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('agency', 'central', 'admin')),
    agency_id TEXT CHECK ((role = 'agency') = (agency_id IS NOT NULL)),
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_sha256 TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    month TEXT NOT NULL,
    file_name TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    feedback TEXT NOT NULL,
    submitted_at TEXT,
    landing_path TEXT);
CREATE TABLE IF NOT EXISTS sign_in_failures (client TEXT NOT NULL, at REAL NOT NULL);
"""

# argon2-cffi's defaults (RFC 9106's second recommended setting: 64 MiB, 3 passes)
_hasher = PasswordHasher()


@functools.cache
def _no_account() -> str:
    """A hash to verify against when no account has the name given, so that an unknown name takes as long as a known
    one. Made when a store is opened, not on import: every `python -m pipelines` verb imports this module, and a
    hash costs about a quarter of a second."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Account:
    email: str
    role: Role
    agency_id: str | None  # the one agency of an agency account; None for central and admin accounts

    def may_read(self, agency_id: str) -> bool:
        return self.role != "agency" or self.agency_id == agency_id


@dataclass(frozen=True)
class Upload:
    id: str
    agency_id: str
    month: str  # YYYY-MM
    file_name: str  # the mapping's name for the file, never the name the client sent
    uploaded_by: str
    uploaded_at: str
    sha256: str
    size_bytes: int
    feedback: dict
    submitted_at: str | None
    landing_path: str | None  # relative to the landing folder, once submitted


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")  # orders submissions to one path


class Store:
    """The SQLite file at `path`; each call opens its own connection (the app serves requests from threads)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(SCHEMA)
        _no_account()  # before the first sign-in, which would otherwise take longer for an unknown name

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as con, con:
            yield con

    # accounts
    def add_account(self, email: str, password: str, role: Role, agency_id: str | None) -> None:
        if len(password) < 12:
            raise ValueError("a password has at least 12 characters")
        with self._connect() as con:
            con.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET role = "
                        "excluded.role, agency_id = excluded.agency_id, password_hash = excluded.password_hash",
                        (email.lower(), role, agency_id, _hasher.hash(password), now()))

    def authenticate(self, email: str, password: str) -> Account | None:
        with self._connect() as con:
            row = con.execute("SELECT email, role, agency_id, password_hash FROM accounts WHERE email = ?",
                              (email.lower(),)).fetchone()
        try:
            _hasher.verify(row[3] if row else _no_account(), password)
        except (VerificationError, InvalidHashError):
            return None
        return Account(*row[:3]) if row else None

    def account(self, email: str) -> Account | None:
        with self._connect() as con:
            row = con.execute("SELECT email, role, agency_id FROM accounts WHERE email = ?", (email,)).fetchone()
        return Account(*row) if row else None

    # sign-in rate limit
    def failures_since(self, client: str, since: float) -> int:
        with self._connect() as con:
            con.execute("DELETE FROM sign_in_failures WHERE at < ?", (since,))
            return con.execute("SELECT count(*) FROM sign_in_failures WHERE client = ? AND at >= ?",
                               (client, since)).fetchone()[0]

    def record_failure(self, client: str, at: float) -> None:
        with self._connect() as con:
            con.execute("INSERT INTO sign_in_failures VALUES (?, ?)", (client, at))

    # API tokens: high-entropy random strings, so a sha256 digest is enough to store them (no password to guess)
    def add_token(self, agency_id: str, label: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._connect() as con:
            con.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?)", (_digest(token), agency_id, label, now()))
        return token

    def agency_of_token(self, token: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT agency_id FROM api_tokens WHERE token_sha256 = ?", (_digest(token),)).fetchone()
        return row[0] if row else None

    # uploads and their audit records
    def add_upload(self, agency_id: str, month: str, file_name: str, uploaded_by: str, sha256: str, size_bytes: int,
                   feedback: dict) -> Upload:
        upload = Upload(secrets.token_urlsafe(16), agency_id, month, file_name, uploaded_by, now(), sha256,
                        size_bytes, feedback, None, None)
        with self._connect() as con:
            con.execute("INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*_row(upload)[:8], json.dumps(feedback), None, None))
        return upload

    def mark_submitted(self, upload_id: str, landing_path: str) -> None:
        with self._connect() as con:
            con.execute("UPDATE uploads SET submitted_at = ?, landing_path = ? WHERE id = ?",
                        (now(), landing_path, upload_id))

    def upload(self, upload_id: str) -> Upload | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        return _upload(row) if row else None

    def submissions(self, agency_id: str | None) -> list[Upload]:
        """The submitted uploads, newest first, of one agency or (None) of every agency."""
        with self._connect() as con:
            rows = con.execute("SELECT * FROM uploads WHERE submitted_at IS NOT NULL AND (? IS NULL OR agency_id = ?)"
                               " ORDER BY submitted_at DESC, id", (agency_id, agency_id)).fetchall()
        return [_upload(row) for row in rows]


    def in_force(self, landing_paths: list[str]) -> dict[str, str]:
        """Landing path -> the sha256 of the latest upload submitted to it (the version the landing folder holds)."""
        with self._connect() as con:
            rows = con.execute("SELECT landing_path, sha256 FROM uploads WHERE landing_path IN (SELECT value FROM "
                               "json_each(?)) ORDER BY submitted_at", (json.dumps(landing_paths),)).fetchall()
        return dict(rows)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row(upload: Upload) -> tuple:
    return (upload.id, upload.agency_id, upload.month, upload.file_name, upload.uploaded_by, upload.uploaded_at,
            upload.sha256, upload.size_bytes)


def _upload(row: tuple) -> Upload:
    return Upload(*row[:8], json.loads(row[8]), row[9], row[10])
