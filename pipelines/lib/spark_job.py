"""The extract stage on Spark: a job launched through Dagster Pipes that gates and aggregates agency-months of
transaction-level extracts with the stage's own SQL (transpiled, transforms/spark_sql.py) and writes its outputs
as Parquet under a run-scoped prefix, for the warehouse to load. It never opens the warehouse.

    python -m pipelines.lib.spark_job    (launched by pipelines/defs/staging/extract_engines.py, with its spec
                                          as Pipes extras)

The spec: `spark` (master, or remote for Spark Connect, token_env naming the variable holding a Connect token,
conf), `catalogue` (Parquet: service_id, agency_id, channels_offered), `output` (the run-scoped prefix), and
`agency_months`: each with its agency, month and either `files` (archived copies: source_file, sha256, uri) or
`location` (a Parquet folder, local path or object-store URI, where the extracts live: listed, sized and hashed
here into the manifest, since they are not copied into the archive). Outputs under the prefix: aggregates/,
quarantine/ (a Spark Parquet folder per agency-month in each), accounting.parquet, manifest.parquet and
unreadable.parquet (files of a location that could not be staged); the caller writes catalogue.parquet there first.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from dagster_pipes import PipesContext, open_dagster_pipes

from transforms.spark_sql import spark_sql

# Agency-months staged at once: their Spark jobs share the cluster's cores, and each keeps its rows cached until its
# outputs are written, so the bound also bounds the executors' memory.
AGENCY_MONTHS_AT_ONCE = 4
COLUMNS = ("transaction_id", "service_id", "channel", "started_at", "completed_at", "outcome")
ACCOUNTING = pa.schema([("agency_id", pa.string()), ("month", pa.date32()), ("source_file", pa.string()),
                        ("sha256", pa.string()), ("file_status", pa.string()), ("rows_read", pa.int64()),
                        ("rows_accepted", pa.int64()), ("rows_quarantined", pa.int64())])
MANIFEST = pa.schema([("agency_id", pa.string()), ("month", pa.date32()), ("uri", pa.string()),
                      ("size_bytes", pa.int64()), ("sha256", pa.string())])
UNREADABLE = pa.schema([("agency_id", pa.string()), ("month", pa.date32()), ("source_file", pa.string()),
                        ("sha256", pa.string()), ("message", pa.string())])


# How long a Spark Connect server has to accept the client's channel before the job gives up: a client whose TLS
# does not match the server's otherwise retries for minutes without saying why.
CONNECT_WAIT_SECONDS = 60
SESSION_CONF = {"spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false", "spark.log.level": "ERROR"}


class SparkSettingsError(RuntimeError):
    """The registry's `spark:` settings cannot work as written; the message names the setting and the fix."""


def connect_address(settings: dict) -> str:
    """The Spark Connect address with the token read from the variable `token_env` names. Spark Connect's client
    sends a token over TLS (except to the host name localhost, where it uses local credentials)."""
    remote, name = settings["remote"].rstrip("/"), settings.get("token_env")
    if not name:
        return remote
    if not os.environ.get(name):
        raise SparkSettingsError(f"spark.token_env names the environment variable {name}, which is not set where the "
                                 f"run runs: set {name} to the Spark Connect token, or remove token_env for a server "
                                 "that takes no token")
    return f"{remote}/;token={os.environ[name]}"


def reach_connect(address: str, seconds: float = CONNECT_WAIT_SECONDS) -> None:
    """Open the channel the session would open, and fail within `seconds` saying why when it cannot: the server is
    not listening, or it is and the client's TLS does not match the server's."""
    import socket

    import grpc
    from pyspark.sql.connect.client import DefaultChannelBuilder

    builder = DefaultChannelBuilder(address)
    endpoint = f"{builder.host.strip('[]')}:{builder.endpoint.rsplit(':', 1)[1]}"
    tls = builder.use_ssl or (builder.token is not None and builder.host != "localhost")
    channel = builder.toChannel()
    try:
        grpc.channel_ready_future(channel).result(timeout=seconds)
    except grpc.FutureTimeoutError:
        host, port = endpoint.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as error:
            raise SparkSettingsError(f"spark.remote: nothing answers at {endpoint} ({error.strerror or error}): "
                                     "start the Spark Connect server or correct the address") from None
        why = ("spark.token_env is set, and Spark Connect's client sends a token only over TLS (but to the host "
               "name localhost)" if builder.token is not None and not builder.use_ssl else
               "use_ssl=true is in spark.remote" if tls else "no token_env and no use_ssl=true in spark.remote")
        raise SparkSettingsError(
            f"spark.remote: the server at {endpoint} accepts connections but no Spark Connect channel opened within "
            f"{seconds:g} s: the client uses {'TLS' if tls else 'no TLS'} ({why}) and the server, it seems, "
            f"{'does not' if tls else 'does'}. Make them match: serve Connect with TLS (or behind a proxy that "
            "terminates it) when a token is used, or connect without one") from None
    finally:
        channel.close()


def spark_session(settings: dict, log=None):
    """A Spark session: Spark Connect when `remote` is set (its token read from the variable `token_env` names),
    else a classic session on `master` (local[N] runs in this process's JVM). Under Connect the server's own
    cluster settings apply: `master` and the `conf` entries it cannot change are named in `log` (a warning)."""
    from pyspark.sql import SparkSession

    conf = {**SESSION_CONF, **(settings.get("conf") or {})}
    builder = SparkSession.builder.appName("service-performance extracts")
    if not settings.get("remote"):
        # PySpark marks a process as Connect's by this variable (set where a Connect session was made, and inherited
        # by the processes it starts); left in place, a classic session would ask for a Connect address instead
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        builder = builder.master(settings.get("master") or "local[2]")
        for key, value in conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    address = connect_address(settings)
    reach_connect(address)
    spark = builder.remote(address).getOrCreate()
    ignored = [key for key in settings.get("conf") or {} if not spark.conf.isModifiable(key)]
    for key, value in conf.items():
        if key not in ignored and spark.conf.isModifiable(key):
            spark.conf.set(key, value)
    ignored = (["master"] if settings.get("master") else []) + [f"conf {key}" for key in ignored]
    if ignored and log is not None:
        log.warning(f"Spark Connect ignores these settings of spark: in sources.yaml (the server's own apply): "
                    f"{', '.join(ignored)}")
    return spark


# Hadoop's names for object stores (what Spark is given) and pyarrow's for the same (what hashes and writes here).
PYARROW_SCHEMES = {"s3a": "s3", "s3n": "s3", "abfss": "abfs", "wasbs": "abfs"}


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The file system of a local path or URI (file://, s3a:// or s3://, gs://, abfss://, hdfs://: pyarrow's own;
    any other scheme through fsspec, with the package of that file system installed) and the path inside it."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    scheme, rest = uri.split("://", 1)
    try:
        return pafs.FileSystem.from_uri(f"{PYARROW_SCHEMES.get(scheme, scheme)}://{rest}")
    except pa.ArrowInvalid:  # a scheme pyarrow does not know (memory://, or one a package adds to fsspec)
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def as_uri(path: str, location: str) -> str:
    """The URI of `path`, a path inside the file system of `location`, in `location`'s own scheme."""
    if "://" not in location:
        return path
    scheme = location.split("://", 1)[0]
    return f"file://{path}" if scheme == "file" else f"{scheme}://{path}"


def listed_files(location: str) -> list[dict]:
    """The Parquet files of a folder where extracts live, by name, each with its size (listed, not read: their
    checksums are taken by the executors that read them, `checksums`)."""
    fs, folder = filesystem(location)
    info = fs.get_file_info(folder)
    if info.type == pafs.FileType.NotFound:
        return []
    found = []
    for entry in sorted(fs.get_file_info(pafs.FileSelector(folder)), key=lambda e: e.path):
        name = PurePosixPath(entry.path).name
        if entry.type != pafs.FileType.File or not name.endswith(".parquet") or name.startswith((".", "_")):
            continue
        uri = as_uri(entry.path, location)
        found.append({"source_file": uri, "uri": uri, "size_bytes": entry.size, "fs": fs, "path": entry.path})
    return found


def _same_file(uri: str) -> str:
    """A file's URI in one spelling (Spark writes file:/x for file:///x and for a bare path /x)."""
    if uri.startswith("file:"):
        return "file:///" + uri[5:].lstrip("/")
    return uri if "://" in uri else "file:///" + uri.lstrip("/")


def checksums(spark, uris: list[str]) -> dict[str, str]:
    """Each file's sha256, computed by the executors, which read it whole (Spark's binaryFile source), instead of
    every byte streamed through the run worker first; by URI."""
    from pyspark.sql import functions as F

    if not uris:
        return {}
    rows = spark.read.format("binaryFile").load(uris).select("path", F.sha2("content", 256).alias("sha256")).collect()
    found = {_same_file(row["path"]): row["sha256"] for row in rows}
    return {uri: found[_same_file(uri)] for uri in uris}


def own_session(spark, settings: dict):
    """A session of its own on the same Spark (its own temporary views and SQL settings): a new Connect session
    under Connect, else spark.newSession()."""
    if not settings.get("remote"):
        return spark.newSession()
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(connect_address(settings)).create()
    for key, value in SESSION_CONF.items():
        if session.conf.isModifiable(key):
            session.conf.set(key, value)
    for key, value in (settings.get("conf") or {}).items():
        if session.conf.isModifiable(key):
            session.conf.set(key, value)
    return session


def unreadable_reason(file: dict) -> str | None:
    """Why a Parquet file cannot be staged (not Parquet, or an extract column missing), or None."""
    try:
        with file["fs"].open_input_file(file["path"]) as handle:
            names = set(pq.ParquetFile(handle).schema_arrow.names)
    except (pa.ArrowException, OSError) as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        return f"missing column(s): {', '.join(missing)} (an extract has {', '.join(COLUMNS)})"
    return None


def row_counts(files: list[dict]) -> list[int]:
    counts = []
    for file in files:
        fs, path = (file["fs"], file["path"]) if "fs" in file else filesystem(file["uri"])
        with fs.open_input_file(path) as handle:
            counts.append(pq.ParquetFile(handle).metadata.num_rows)
    return counts


def extract_source(spark, files: list[dict]):
    """The files as DuckDB's read_parquet(files, file_row_number = true, union_by_name = true) gives them: the
    extract columns, file_index (position in `files`) and file_row_number (0-based); a column whose type differs
    between files is read as text, as DuckDB's union by name does."""
    from pyspark.sql import functions as F

    frames = [spark.read.parquet(f["uri"]).select(F.lit(i).alias("file_index"),
                                                   F.col("_metadata.row_index").alias("file_row_number"), *COLUMNS)
              for i, f in enumerate(files)]
    types = {c: {dict(frame.dtypes)[c] for frame in frames} for c in COLUMNS}
    frames = [frame.select("file_index", "file_row_number",
                           *[F.col(c).cast("string").alias(c) if len(types[c]) > 1 else F.col(c) for c in COLUMNS])
              for frame in frames]
    source = frames[0]
    for frame in frames[1:]:
        source = source.unionByName(frame)
    return source


def stage_agency_month(spark, agency: str, month: str, files: list[dict], seconds: dict):
    """Gate and aggregate one agency-month on Spark: (aggregates, quarantined rows or None, accounting rows, the
    cached rows to release once the first two are kept)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    month = dt.date.fromisoformat(month)
    extract_source(spark, files).createOrReplaceTempView("extract_source")
    # read four times below (hashes, candidates, aggregates, violations): kept after the first, spilling to disk
    rows = spark.sql(spark_sql("extract_rows"), args={"agency": agency, "month": month}).persist(
        StorageLevel.MEMORY_AND_DISK)
    rows.createOrReplaceTempView("extract_rows")
    started = time.monotonic()
    duplicates = spark.sql(spark_sql("extract_duplicates")).cache()
    duplicates.count()
    duplicates.createOrReplaceTempView("extract_duplicates")
    seconds["gates"] += time.monotonic() - started

    started = time.monotonic()
    levels = F.array(F.lit(True), F.lit(False))
    aggregates = spark.sql(spark_sql("extract_aggregates"), args={"agency": agency, "month": month,
                                                                  "levels": levels}).cache()
    accepted = aggregates.where("channel = 'all'").agg(F.sum("transactions_started")).first()[0] or 0
    seconds["aggregation"] += time.monotonic() - started

    rows_read = row_counts(files)
    rejected, quarantined = {}, None
    if accepted < sum(rows_read):
        started = time.monotonic()
        index = spark.createDataFrame([(i, f["source_file"], f["sha256"]) for i, f in enumerate(files)],
                                      "file INT, source_file STRING, sha256 STRING")
        violations = spark.sql(spark_sql("extract_violations"), args={"agency": agency, "month": month})
        quarantined = (violations.join(index, "file")
                       .select(F.lit(agency).alias("agency_id"), F.lit(month).alias("month"), "source_file",
                               "sha256", "row_number", "rule", "column_name", "offending_value", "message", "file")
                       .cache())
        rejected = {row["file"]: row["count"] for row in quarantined.groupBy("file").count().collect()}
        quarantined = quarantined.drop("file")
        seconds["gates"] += time.monotonic() - started
    if accepted + sum(rejected.values()) != sum(rows_read):
        raise RuntimeError(f"{agency} {month}: {sum(rows_read)} rows read but {accepted} accepted and "
                           f"{sum(rejected.values())} quarantined")
    accounting = [{"agency_id": agency, "month": month, "source_file": f["source_file"], "sha256": f["sha256"],
                   "file_status": "read", "rows_read": rows_read[i], "rows_accepted": rows_read[i] - rejected.get(i, 0),
                   "rows_quarantined": rejected.get(i, 0)} for i, f in enumerate(files)]
    return aggregates, quarantined, accounting, rows


def write_table(rows: list[dict], schema: pa.Schema, uri: str) -> None:
    fs, path = filesystem(uri)
    fs.create_dir(str(PurePosixPath(path).parent), recursive=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, filesystem=fs)


def run(pipes: PipesContext) -> None:
    spec = pipes.extras
    output = spec["output"].rstrip("/")
    seconds = {"gates": 0.0, "aggregation": 0.0}
    started = time.monotonic()
    spark = spark_session(spec["spark"], pipes.log)
    seconds["session"] = time.monotonic() - started
    pipes.log.info(f"Spark {spark.version} session ({spec['spark'].get('remote') or spec['spark'].get('master')}) "
                   f"in {seconds['session']:.1f} s")

    def stage(job: dict) -> tuple[list, list, list, dict]:
        """One agency-month, in a session of its own (its temporary views are its own): accounting, manifest and
        unreadable rows, and its seconds (with when it started and ended, epoch seconds)."""
        agency, month, timing = job["agency"], job["month"], {"gates": 0.0, "aggregation": 0.0,
                                                               "started": time.time()}
        accounting, manifest, unreadable = [], [], []
        session = own_session(spark, spec["spark"])
        session.read.parquet(spec["catalogue"]).createOrReplaceTempView("stg_service_catalogue")
        if "location" in job:
            files = listed_files(job["location"])
            sums = checksums(session, [f["uri"] for f in files])
            for file in files:
                file["sha256"] = sums[file["uri"]]
            manifest += [{"agency_id": agency, "month": month, "uri": f["uri"], "size_bytes": f["size_bytes"],
                          "sha256": f["sha256"]} for f in files]
            readable = []
            for file in files:
                reason = unreadable_reason(file)
                if reason is None:
                    readable.append(file)
                    continue
                unreadable.append({"agency_id": agency, "month": month, "source_file": file["source_file"],
                                   "sha256": file["sha256"], "message": reason[:500]})
                accounting.append({"agency_id": agency, "month": month, "source_file": file["source_file"],
                                   "sha256": file["sha256"], "file_status": "unreadable", "rows_read": 0,
                                   "rows_accepted": 0, "rows_quarantined": 0})
        else:
            readable = job["files"]
        if not readable:  # nothing readable: the month's transactions are not provided
            return accounting, manifest, unreadable, {**timing, "ended": time.time()}
        result, rejected, rows, cached = stage_agency_month(session, agency, month, readable, timing)
        part = f"{agency}-{month[:7]}"  # written now, so that the month's cached rows can go
        result.coalesce(1).write.mode("overwrite").parquet(f"{output}/aggregates/{part}")
        if rejected is not None:
            rejected.coalesce(1).write.mode("overwrite").parquet(f"{output}/quarantine/{part}")
        cached.unpersist()
        pipes.log.info(f"{agency} {month[:7]}: {sum(r['rows_read'] for r in rows):,} rows read from "
                       f"{len(readable)} file(s), {sum(r['rows_quarantined'] for r in rows):,} quarantined")
        return accounting + rows, manifest, unreadable, {**timing, "ended": time.time()}

    accounting, manifest, unreadable, spans = [], [], [], []
    with ThreadPoolExecutor(max_workers=AGENCY_MONTHS_AT_ONCE) as pool:
        results = pool.map(stage, spec["agency_months"])  # in the spec's order
        for job, (rows, listed, broken, timing) in zip(spec["agency_months"], results):
            accounting, manifest, unreadable = accounting + rows, manifest + listed, unreadable + broken
            seconds["gates"] += timing["gates"]
            seconds["aggregation"] += timing["aggregation"]
            spans.append({"agency": job["agency"], "month": job["month"][:7], "started": round(timing["started"], 3),
                          "ended": round(timing["ended"], 3)})

    for rows in (accounting, manifest, unreadable):
        for row in rows:
            row["month"] = dt.date.fromisoformat(str(row["month"])[:10])
    write_table(accounting, ACCOUNTING, f"{output}/accounting.parquet")
    write_table(manifest, MANIFEST, f"{output}/manifest.parquet")
    write_table(unreadable, UNREADABLE, f"{output}/unreadable.parquet")
    spark.stop()
    pipes.report_asset_materialization(metadata={
        "engine": "spark",
        "spark_master": spec["spark"].get("remote") or spec["spark"].get("master"),
        "spark_outputs": output,
        "spark_agency_months": len(spec["agency_months"]),
        "spark_rows_read": sum(r["rows_read"] for r in accounting),
        "spark_rows_accepted": sum(r["rows_accepted"] for r in accounting),
        "spark_rows_quarantined": sum(r["rows_quarantined"] for r in accounting),
        "spark_files_unreadable": len(unreadable),
        "spark_manifest_files": len(manifest),
        "spark_manifest_bytes": sum(m["size_bytes"] for m in manifest),
        "spark_session_seconds": round(seconds["session"], 3),
        "spark_gate_seconds": round(seconds["gates"], 3),
        "spark_aggregation_seconds": round(seconds["aggregation"], 3),
        "spark_seconds": round(time.monotonic() - started, 3),
        # when each agency-month's staging started and ended (epoch seconds): up to AGENCY_MONTHS_AT_ONCE overlap
        "spark_agency_month_spans": {"raw_value": spans, "type": "json"},
    })


# A Java or Python exception line of a Spark error ("Caused by: java.io.FileNotFoundException: File ... does not
# exist"), and a file named in one.
EXCEPTION_LINE = re.compile(r"^(?:Caused by: )?((?:[\w$]+\.)*[\w$]*(?:Exception|Error)): (.+)$")
FILE_URI = re.compile(r"\b((?:file|s3a?|s3n|gs|abfss?|wasbs?|hdfs):/[^\s,;'\"\]\)]*[^\s,;'\"\]\).])")


def summary(error: BaseException, settings: dict) -> str:
    """One line for the step's failure message: Spark's first cause (the deepest "Caused by", not the wrapper 140
    lines above it), the file it names, and what to change."""
    if isinstance(error, SparkSettingsError):
        return str(error)
    text = f"{type(error).__name__}: {error}"
    causes = [match for line in text.splitlines() if (match := EXCEPTION_LINE.match(line.strip()))]
    cls, message = (causes[-1].group(1).rsplit(".", 1)[-1], causes[-1].group(2)) if causes else (
        type(error).__name__, str(error).strip().splitlines()[0] if str(error).strip() else "")
    files = FILE_URI.findall(message) or FILE_URI.findall(text)
    on_cluster = bool(settings.get("remote")) or not (settings.get("master") or "local").startswith("local")
    if "PACKAGE_NOT_INSTALLED" in text:
        fix = "install the project with its connect extra where the run runs: pip install '.[connect]'"
    elif "No FileSystem for scheme" in text or ("ClassNotFoundException" in text and "FileSystem" in text):
        fix = ("the cluster lacks the Hadoop connector for this scheme (hadoop-aws for s3a://, hadoop-azure for "
               "abfss://, the GCS connector for gs://): add it to the cluster, or to spark.jars.packages in "
               "spark: conf")
    elif (cls == "FileNotFoundException" or "does not exist" in message) and on_cluster and files and \
            files[0].startswith("file:"):
        fix = ("the executors cannot see this path on the run worker's disk: set spark.storage in sources.yaml to "
               "a folder every executor mounts at the same path, or an object-store URI")
    elif cls == "FileNotFoundException" or "does not exist" in message:
        fix = "the file is gone or cannot be read where Spark runs: check the path and the executors' access to it"
    else:
        fix = "Spark's full error is in the step's log (make dev, the run's stg_extract_transactions step)"
    where = f" (file {files[0]})" if files else ""
    return f"{cls}: {message[:400]}{where}; fix: {fix}"


def main() -> None:
    with open_dagster_pipes() as pipes:
        try:
            run(pipes)
        except Exception as error:  # the step's failure message, for the caller: Pipes itself passes on only a code
            if pipes.extras.get("failure"):
                Path(pipes.extras["failure"]).write_text(summary(error, pipes.extras["spark"]), encoding="utf-8")
            raise


if __name__ == "__main__":
    main()
