"""housekeeping.yaml (what is kept how long) and open_data.yaml (what the published package and its columns mean)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from pipelines.lib.config.base import Count, Model, Text, web_address


class RawArchive(Model):
    superseded_keep_days: Count | None  # null: every archived version is kept


class RunHistory(Model):
    keep_days: Count | None


class TemporaryFiles(Model):
    keep_hours: Count | None


class Housekeeping(Model):
    """housekeeping.yaml: how long superseded raw copies, run history and leftover temporary files are kept."""

    raw_archive: RawArchive
    run_history: RunHistory
    temporary_files: TemporaryFiles


class License(Model):
    name: Text
    path: str
    title: Text

    _path = field_validator("path")(web_address)


class PackageSource(Model):
    title: Text


class Package(Model):
    """The data package's own description (datapackage.json), in the order it is written."""

    name: Text
    title: Text
    description: Text
    homepage: str
    licenses: Annotated[list[License], Field(min_length=1)]
    sources: list[PackageSource]

    _homepage = field_validator("homepage")(web_address)


class FieldMeta(Model):
    description: Text
    unit: Text | None = None


class OpenData(Model):
    """open_data.yaml: what the package and each column mean (each table's title, description and key are in
    transforms/catalogue.py)."""

    package: Package
    fields: dict[str, FieldMeta]
