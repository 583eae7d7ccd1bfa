"""sources.yaml, the agency registry: one entry per agency and how its returns arrive."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from pipelines.lib.config.base import Model, Text, one_name, raise_broken, web_address
from pipelines.lib.files import CENTRAL_FILES

DEFAULT_FIRST_MONTH = "2020-01"  # the first month loaded, the first monthly partition, unless the registry says
EARLIEST_MONTH = "2000-01"  # the earliest first_month a registry may set
# Every agency's return is due by the 20th of the following month (return_due_day), so the regular cycle runs on
# the 21st, early, for the month just ended (pipelines/lib/partitions.py); a return is due before it.
CYCLE_DAY = 21
# Folders under data/landing/ that hold the central team's files (the catalogue, the benefits register).
CENTRAL_FOLDERS = tuple(path.split("/")[0] for path in CENTRAL_FILES.values())
AGENCY_ID = re.compile(r"[A-Za-z0-9_]+")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
# How often an agency reports, and so which months a return is due in (submission_status): rolling_12_months is a
# rolling year sent every month, rolling_12_months_quarterly one sent at each quarter's end, yearly one sent once a
# year, in the agency's year_end_month (a year to June: 6).
Cadence = Literal["monthly", "quarterly", "financial_year", "calendar_year", "rolling_12_months",
                  "rolling_12_months_quarterly", "yearly"]


def _month(value: str | None) -> str | None:
    if value is not None and (not MONTH.fullmatch(value) or value < EARLIEST_MONTH):
        raise ValueError(f"must be a month YYYY-MM from {EARLIEST_MONTH} on, not {value!r}")
    return value


class Agency(Model):
    """One entry of sources.yaml: an agency and how its returns arrive."""

    id: str
    name: Text
    department: Text
    connector: Literal["file_drop", "http", "performance_platform"]
    format: Literal["csv", "xlsx", "json", "parquet", "extract"]
    mapping: Text
    return_due_day: int
    credential_env: str | None = None  # the NAME of the environment variable holding a credential, never its value
    location: str | None = None  # the folder under data/landing/ (default: the id)
    url: str | None = None  # http: the API's address, {month} (YYYY-MM) and {return} filled in per fetch
    pagination: Literal["none", "link", "next", "page"] = "none"  # http only
    max_pages: Annotated[int, Field(gt=0)] = 500  # http only: pages of one return, else pagination_unbounded
    return_deadline_seconds: Annotated[float, Field(gt=0)] = 600  # http only: one return, every page; http_timeout
    engine: Literal["duckdb", "spark"] = "duckdb"  # transaction-level extracts: which engine stages them
    extract_location: str | None = None  # engine spark: a month's Parquet folder where the extracts live ({month})
    cadence: list[Cadence] = ["monthly"]  # when a return is due: monthly, at quarter ends, in March, ...
    first_month: str | None = None  # YYYY-MM: the first month a return is due (default: the registry's)
    year_end_month: Annotated[int, Field(ge=1, le=12)] | None = None  # cadence yearly: the month its year ends

    @field_validator("first_month")
    @classmethod
    def _first(cls, value: str | None) -> str | None:
        return _month(value)

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError("must name each cadence once, at least one")
        return value

    @property
    def folder(self) -> str:
        return self.location or self.id

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not AGENCY_ID.fullmatch(value):
            raise ValueError("must be letters, digits and underscores")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None and not one_name(value):
            raise ValueError("must be one folder name under data/landing/ (no '..', no '/')")
        return value

    @field_validator("return_due_day")
    @classmethod
    def _due_day(cls, value: int) -> int:
        if not 1 <= value <= 28:
            raise ValueError(f"must be a day from 1 to 28 (one that every month has), not {value}")
        if value >= CYCLE_DAY:
            raise ValueError(f"must be before day {CYCLE_DAY}, when the monthly cycle runs, not {value}")
        return value

    @field_validator("credential_env")
    @classmethod
    def _credential_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.fullmatch(value):  # the value is never repeated: it may be a secret
            raise ValueError("must be the name of an environment variable (capital letters, digits and _, such as "
                             "DVLA_API_TOKEN), never the credential itself")
        return value

    @field_validator("extract_location")
    @classmethod
    def _extract_location(cls, value: str | None) -> str | None:
        if value is not None and "{month}" not in value:
            raise ValueError("must contain {month} (YYYY-MM): each month's extracts are a folder of their own")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        web_address(value)
        if value is not None and not ("{month}" in value and "{return}" in value):
            raise ValueError("must contain {month} and {return}: each return of each month has its own address")
        return value

    @model_validator(mode="after")
    def _connector_rules(self) -> Agency:
        problems = []
        if self.connector == "http":
            if self.url is None:
                problems.append((("url",), "missing: an http agency needs the address of its API"))
            if self.format not in ("json", "csv"):
                problems.append((("format",), "an http agency's format is json or csv"))
            elif self.pagination == "next" and self.format != "json":
                problems.append((("pagination",), "next reads a field of a JSON body; use link or page for csv"))
        else:
            problems += [((key,), f"is read only for connector http, not {self.connector}")
                         for key in ("url", "pagination", "max_pages", "return_deadline_seconds")
                         if key in self.model_fields_set]
        if ("yearly" in self.cadence) != (self.year_end_month is not None):
            problems.append((("year_end_month",), "a yearly cadence needs the month its year ends (year_end_month: "
                                                  "6 for years to June), and only a yearly cadence has one"))
        if self.extract_location is not None and self.engine != "spark":
            problems.append((("extract_location",), "is read only with engine spark (extracts read where they live)"))
        if self.connector == "performance_platform" and self.format != "json":
            problems.append((("format",), "Performance-Platform records are json"))
        if self.folder in CENTRAL_FOLDERS:
            problems.append((("location" if self.location else "id",),
                             f"data/landing/{self.folder}/ holds the central team's files, not an agency's"))
        raise_broken(problems)
        return self


def _spark_value(value: str | bool | int | float) -> str:
    """A conf value as Spark takes it, from what YAML made of it: true -> "true", 400 -> "400", 8g -> "8g"."""
    return str(value).lower() if isinstance(value, bool) else str(value)


# bool before int: YAML's true must not become 1
SparkValue = Annotated[bool | int | float | str, AfterValidator(_spark_value)]


class Spark(Model):
    """sources.yaml's `spark:` section: where agencies on engine spark are staged (README, "Beyond one machine")."""

    master: Text = "local[2]"  # local[N], spark://host:7077, yarn, k8s://...: the job is the driver (client mode)
    remote: str | None = None  # a Spark Connect address (sc://host:15002) instead of a master
    token_env: str | None = None  # the NAME of the environment variable holding the Connect token, never its value
    conf: dict[str, SparkValue] = {}  # as written in YAML: 400, true and 8g alike
    # The one root for what executors read and write: the archive of submissions (<storage>/archive/, read by
    # executors where it is), and each run's converted inputs and outputs under <storage>/<run id>/. A folder every
    # executor mounts at the same path, or a URI (s3a://, gs://, abfss://: pyarrow, or fsspec with the file system's
    # package, reaches it here, the cluster's connector there). Unset: <data_dir>/archive and
    # <data_dir>/stage-outputs, the run worker's own disk: local masters only (checked below).
    storage: str | None = None

    def on_cluster(self) -> bool:
        """Spark runs beyond this process's machine: a Connect server or a master other than local[N]."""
        return self.remote is not None or not self.master.startswith("local")

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise ValueError("must be a Spark Connect address, sc://host:port")
        return value

    @field_validator("token_env")
    @classmethod
    def _token_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.fullmatch(value):
            raise ValueError("must be the name of an environment variable (capital letters, digits and _), never "
                             "the token itself")
        return value


class Registry(Model):
    """sources.yaml: the agencies, each with its own id and its own folder."""

    agencies: list[Agency]
    spark: Spark = Spark()
    first_month: str = DEFAULT_FIRST_MONTH  # YYYY-MM: the first month loaded (the first partition)

    @field_validator("first_month")
    @classmethod
    def _first(cls, value: str) -> str:
        return _month(value)

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        problems, ids, folders = [], {}, {}
        if self.spark.on_cluster() and self.spark.storage is None and any(a.engine == "spark" for a in self.agencies):
            where = f"remote {self.spark.remote}" if self.spark.remote else f"master {self.spark.master}"
            problems.append((("spark", "storage"), f"must be set when Spark runs on a cluster ({where}): by default "
                             "the archive and the run's extract inputs and outputs are under the data folder on the "
                             "run worker's disk, which executors on other machines cannot read; set a folder every "
                             "executor mounts at the same path, or an object-store URI (s3a://, gs://, abfss://)"))
        problems += [(("agencies", i, "first_month"), f"is before the registry's first_month {self.first_month}")
                     for i, a in enumerate(self.agencies) if a.first_month and a.first_month < self.first_month]
        for index, agency in enumerate(self.agencies):
            if agency.id in ids:
                problems.append((("agencies", index, "id"), f"entries {ids[agency.id] + 1} and {index + 1} have "
                                                            "this id; each agency has its own"))
                continue
            ids[agency.id] = index
            if agency.folder in folders:
                problems.append((("agencies", index, "location" if agency.location else "id"),
                                 f"data/landing/{agency.folder}/ is also the folder of agency "
                                 f"'{folders[agency.folder]}'; each agency has its own"))
            folders.setdefault(agency.folder, agency.id)
        raise_broken(problems)
        return self
