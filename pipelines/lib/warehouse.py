"""The warehouse's shared mechanisms, as functions of a DuckDB connection: open it with its schema in place,
rebuild a table from SQL, replace a run's months, and read the submissions in force."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import duckdb

from transforms import sql

# Files DuckDB 1.4 can open (Evidence and the DuckDB CLI bundle older versions than the Python wheel).
DUCKDB_CONFIG = {"storage_compatibility_version": "v1.4.0"}
# The schema's version: the DDL runs when a file does not have this one yet (once per file, not per connection).
SCHEMA_VERSION = hashlib.sha256(sql("schema").encode()).hexdigest()[:16]


class StaleWarehouse(RuntimeError):
    """A warehouse file made by an older version that cannot be brought to this schema in place."""


class CorruptWarehouse(RuntimeError):
    """The warehouse file is damaged or truncated: DuckDB cannot read it."""

    def __init__(self, path: Path, error: duckdb.Error):
        super().__init__(
            f"the warehouse {path} is damaged or truncated: DuckDB cannot read it ({str(error).splitlines()[0]}). "
            "Restore the latest backup into a new data folder (PIPELINE_DATA_DIR=NEW python -m pipelines.housekeeping "
            "restore BACKUP) and run the command it prints, which republishes everything from it; README, "
            "\"Housekeeping, backup and restore\"")

    @staticmethod
    def means(path: Path, error: duckdb.Error) -> bool:
        """Whether DuckDB's error says the file itself is damaged (its words, as DuckDB 2.0 has them), not a query or
        another file read through the connection (a landing file's errors name that file)."""
        text = str(error)
        return "Corrupt database file" in text or str(path) in text and (
            "not a valid DuckDB database file" in text or "Could not read enough bytes" in text)


class WarehouseBusy(RuntimeError):
    """The data folder's run lock stayed held by another run or housekeeping command for longer than the wait."""


# How long a run or a housekeeping command waits for the one holding the run lock, by default (a run of a national
# month takes minutes, `benchmarks/RESULTS.md`): long enough for it to end, short enough that a stuck one is seen.
LOCK_WAIT_MINUTES = 60.0


@contextmanager
def exclusive(path: Path, doing: str, wait_minutes: float = LOCK_WAIT_MINUTES) -> Iterator[None]:
    """Hold the run lock beside the warehouse at `path` while the block runs, `doing` naming what holds it (run,
    backup...). When another process holds it, say so and wait for it to end, at most `wait_minutes` (then
    WarehouseBusy, nothing done). The system releases the lock when its process ends, however it ends."""
    lock = Path(f"{path}.run-lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as handle:
        deadline, told = time.monotonic() + wait_minutes * 60, None
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                kind, said, details = handle.read().strip().partition(": ")
                kind, details = (kind, details) if said else ("run", kind or "process unknown")
                other = f"another {kind}" if kind == doing else f"a {kind}"
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"nothing done: gave up after waiting {wait_minutes:g} minutes, as {other} is still in "
                        f"progress on {path.parent} ({details}). Try again when it has ended, or wait longer "
                        "(--wait MINUTES)") from None
                if told is None:
                    print(f"{other} is in progress on {path.parent} ({details}); waiting for it to finish (at most "
                          f"{wait_minutes:g} minutes)", file=sys.stderr, flush=True)
                    told = f"the other {kind}" if kind == doing else f"the {kind}"
                time.sleep(0.5)
        if told:
            print(f"{told} has finished; starting", file=sys.stderr, flush=True)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{doing}: pid {os.getpid()}, since {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n")
        handle.flush()
        yield


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file with its tables in place and the shared formulas defined.

    The file is attached, for the time of the connection only, to an in-memory DuckDB the process keeps (one per
    file, whatever the path's spelling), and a run opens the warehouse about a hundred times: this pays 31 ms of CPU
    a connection inside `held` (3.4 ms against 34-39 ms for a DuckDB opened, given the formulas, attached and closed
    each time: 100 connections each with a write, 5 rounds in turns, load 17-21, 2026-12-07), about 3 s of a run.
    The file is locked exactly as long as it is attached (another process can open it the moment the last
    connection to it in this one closes; inside `held`, when the block ends), and nested connections share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    instance = _attach(path)
    con = instance.db.cursor()
    try:
        con.execute("USE warehouse")
        con.execute("SET search_path = 'warehouse.main,memory.main'")  # the formulas are the instance's own
        ensure_schema(con)
        yield con
    except duckdb.Error as error:
        if CorruptWarehouse.means(path, error):
            raise CorruptWarehouse(path, error) from error
        raise
    finally:
        con.close()  # its open transaction, if any, is rolled back
        with _lock:
            instance.users -= 1
            _detach_unused(instance)


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Inside the block, the file stays attached from the first connection to it until the block ends, instead of
    being detached (written through, its lock released) whenever its last connection closes. For a process that is
    the warehouse's one writer for a while: `make run` (pipelines/run.py) holds it for its run, so the run's fifty
    steps attach it and write it through once, not once each (5-10 ms a step). A run the daemon launches does not:
    its steps take turns on the file with other runs' (the pool `warehouse`)."""
    with _lock:
        instance = _instance(path)
        instance.holds += 1
    try:
        yield
    finally:
        with _lock:
            instance.holds -= 1
            _detach_unused(instance)


@dataclass
class _Instance:
    """The process's in-memory DuckDB for one warehouse file."""

    db: duckdb.DuckDBPyConnection
    users: int = 0  # connections open on it
    holds: int = 0  # `held` blocks it is in
    attached: bool = False


# path -> its _Instance, the most recently used last. At most KEPT are kept while nothing uses them (a process works
# on one warehouse; a test process on many). A forked child makes its own: a DuckDB does not survive a fork.
KEPT = 4
_instances: OrderedDict[str, _Instance] = OrderedDict()
_owner = os.getpid()
_lock = threading.Lock()


def _instance(path: Path) -> _Instance:
    """The path's instance, made when it has none (called with _lock held)."""
    global _owner
    if _owner != os.getpid():
        _instances.clear()
        _owner = os.getpid()
    key = str(path.resolve())  # one instance per file, however the caller spells its path
    if key not in _instances:  # spills go beside the file, where a DuckDB opened on it would put them
        db = duckdb.connect(config={**DUCKDB_CONFIG, "temp_directory": f"{path}.tmp"})
        db.execute(sql("formulas"))  # macros of the in-memory database: nothing written to the file
        _instances[key] = _Instance(db)
    _instances.move_to_end(key)
    return _instances[key]


def _attach(path: Path) -> _Instance:
    with _lock:
        instance = _instance(path)
        if not instance.attached:
            try:
                instance.db.execute(f"ATTACH {_quoted(path)} AS warehouse")
            except duckdb.Error as error:
                if CorruptWarehouse.means(path, error):
                    raise CorruptWarehouse(path, error) from error
                raise
            instance.attached = True
        instance.users += 1
        return instance


def _detach_unused(instance: _Instance) -> None:
    """Detach the file when nothing uses it (written through and closed: free for other processes), and close the
    least recently used instances beyond KEPT (called with _lock held)."""
    if instance.attached and instance.users == 0 and instance.holds == 0:
        instance.db.execute("DETACH warehouse")
        instance.attached = False
    idle = [key for key, kept in _instances.items() if not kept.attached and kept.holds == 0]
    for key in idle[:-KEPT]:
        _instances.pop(key).db.close()


@contextmanager
def memory_limit(con, limit: str) -> Iterator[None]:
    """DuckDB's memory budget set to `limit` for the time of the block. It is the process's instance's setting, so
    it is set back even when the block fails: the connections after it have the default again."""
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute("RESET memory_limit")


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def bootstrap(con) -> None:
    """The warehouse's tables and the shared formulas, on a connection of its own (an in-memory one: the formulas are
    macros of the connection's database)."""
    ensure_schema(con)
    con.execute(sql("formulas"))


def ensure_schema(con) -> None:
    """The warehouse's tables, created when the file does not have this schema version yet."""
    con.execute("SET TimeZone = 'UTC'")  # published timestamps must not depend on the machine's zone
    if schema_version(con) != SCHEMA_VERSION:
        con.execute("BEGIN")
        rekeyed = _set_aside_old_manifest(con)
        reshaped = _set_aside_old_shapes(con)
        con.execute(sql("schema"))
        if rekeyed:
            con.execute("INSERT INTO raw_submissions BY NAME SELECT * FROM raw_submissions_old_key")
            con.execute("DROP TABLE raw_submissions_old_key")
        for table, kept in reshaped.items():  # rows kept by name: added columns NULL, dropped ones gone
            names = ", ".join(f'"{c}"' for c in kept)
            try:
                con.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{table}_old_shape"')
            except duckdb.ConstraintException as error:  # nothing is committed: the file stays as it was
                raise StaleWarehouse(
                    f"the warehouse was made by an older version and its table {table} cannot take its rows into "
                    f"the new shape ({str(error).splitlines()[0]}); rebuild it from the archive and the landing "
                    "files: `make clean`, then `make run`") from error
            con.execute(f'DROP TABLE "{table}_old_shape"')
        con.execute("CREATE OR REPLACE TABLE schema_version AS SELECT ? AS version", [SCHEMA_VERSION])
        con.execute("COMMIT")


def _set_aside_old_manifest(con) -> bool:
    """A manifest keyed by file time (before A, B, A could be archived) is renamed, to be copied under the schema's
    key (the archiving time); True when it was. Constraints cannot be altered in place in DuckDB."""
    [(old,)] = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'raw_submissions' AND "
                           "constraint_type = 'PRIMARY KEY' AND constraint_text LIKE '%received_at%'").fetchall()
    if old:
        con.execute("ALTER TABLE raw_submissions RENAME TO raw_submissions_old_key")
    return bool(old)


def _columns(con) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' "
                       "AND NOT internal ORDER BY table_name, column_index").fetchall()
    columns = {}
    for table, column, kind in rows:
        columns.setdefault(table, []).append((column, kind))
    return columns


def _set_aside_old_shapes(con) -> dict[str, list[str]]:
    """The schema's tables that this file holds in another shape (a warehouse made by an older version: columns
    added, dropped or retyped since) are renamed, to be made again in the schema's shape with their rows copied in;
    returns each with the columns both shapes have. Data tables only: views are simply replaced."""
    with duckdb.connect() as target:
        target.execute(sql("schema"))
        wanted = _columns(target)
        views = {name for (name,) in
                 target.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    have = {table: columns for table, columns in _columns(con).items() if table not in views}
    reshaped = {}
    for table, columns in wanted.items():
        if table in views or table not in have or have[table] == columns:
            continue
        con.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_old_shape"')
        reshaped[table] = [name for name, _ in columns if name in {n for n, _ in have[table]}]
    return reshaped


def schema_version(con) -> str | None:
    if not table_exists(con, "schema_version"):
        return None
    return con.execute("SELECT version FROM schema_version").fetchall()[0][0]


def bound(query: str, params: dict) -> dict:
    """The named parameters a query uses ($name), of those given: DuckDB refuses parameters a query does not name."""
    return {name: value for name, value in params.items() if re.search(rf"\${name}\b", query)}


def table_exists(con, table: str) -> bool:
    # fetchall, not fetchone: a result left unfinished stops the connection's next relation (DuckDB 2)
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'",
                       [table]).fetchall()[0][0] > 0


def rebuild_table(con, table: str, query: str, params: dict | None = None) -> int:
    """Replace `table` with the rows of `query`, inside the caller's transaction; the new row count."""
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}", params or {})
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def replace_months(con, table: str, query: str, start: dt.date, end: dt.date) -> int:
    """Replace the months [start, end) of `table` with the rows of `query` (bound $start, $end), inside the
    caller's transaction. Columns are matched by name; a table whose columns no longer match the query's is
    rebuilt from the query's shape (its other months come back when their runs are repeated)."""
    params = bound(query, {"start": start, "end": end})
    shape = [tuple(row[:2]) for row in con.execute(f"DESCRIBE {query}", params).fetchall()]
    if table_exists(con, table) and shape != [tuple(r[:2]) for r in con.execute(f"DESCRIBE {table}").fetchall()]:
        con.execute(f"DROP TABLE {table}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ({query}) LIMIT 0", params)
    con.execute(f"DELETE FROM {table} WHERE month >= ? AND month < ?", [start, end])
    con.execute(f"INSERT INTO {table} BY NAME {query}", params)
    return con.execute(f"SELECT count(*) FROM {table} WHERE month >= ? AND month < ?", [start, end]).fetchone()[0]


# The slice a run owns: its months and, when the run is limited to some agencies, only theirs.
RUN_SLICE = "month >= ? AND month < ? AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], agency_id))"


def delete_run_slice(con, table: str, start: dt.date, end: dt.date, agencies: Sequence[str] | None,
                     return_type: str | None = None) -> None:
    """Delete a run's months of `table` (only its agencies' rows when given; one return type's when given)."""
    agencies = list(agencies) if agencies is not None else None
    where, params = RUN_SLICE, [start, end, agencies, agencies]
    if return_type is not None:
        where, params = f"return_type = ? AND {where}", [return_type, *params]
    con.execute(f"DELETE FROM {table} WHERE {where}", params)


class Submission(NamedTuple):
    """A file's version in force: where it arrived, its checksum, agency and month (None for central files and
    records) and its unchanged copy, relative to data/archive/."""
    source_path: str
    sha256: str
    agency_id: str | None
    month: dt.date | None
    archive_path: str


def submissions_in_force(con, start: dt.date | None = None, end: dt.date | None = None,
                         paths: Sequence[str] | None = None) -> list[Submission]:
    """The version in force of each submitted file (view current_submissions), in the order they were archived: all
    of them; with `start` and `end`, the returns of months in [start, end), only files directly in a month folder
    (<agency>/<YYYY-MM>/<name>: one in a subfolder, archived before those stopped being read, is not a return); with
    `paths`, those files."""
    rows = con.execute("SELECT source_path, sha256, agency_id, month, archive_path FROM current_submissions "
                       "WHERE ($start::DATE IS NULL OR (month >= $start AND month < $end "
                       "AND len(string_split(source_path, '/')) = 3)) "
                       "AND ($paths::VARCHAR[] IS NULL OR list_contains($paths::VARCHAR[], source_path)) "
                       "ORDER BY archived_at, source_path",
                       {"start": start, "end": end, "paths": None if paths is None else list(paths)}).fetchall()
    return [Submission(*row) for row in rows]


def preview(con, query: str, params: dict | list | None = None, rows: int = 5) -> str:
    """The first rows of a query as a Markdown table, for the Dagster UI."""
    frame = con.execute(f"SELECT * FROM ({query}) LIMIT {int(rows)}", params or {}).df()
    return frame.to_markdown(index=False) if len(frame) else "(no rows)"
