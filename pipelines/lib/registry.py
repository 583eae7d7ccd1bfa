"""The source registry (config/sources.yaml) and the mapping files it names (config/mappings/)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
RETURN_TYPES = ("transactions", "costs", "satisfaction")
CONNECTORS = ("file_drop", "http", "performance_platform")


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    department: str
    connector: str
    format: str
    mapping: str
    return_due_day: int
    credential_env: str | None = None  # the NAME of the environment variable holding a credential
    location: str | None = None        # file drops and records: the folder under data/landing/ (default: id)
    url: str | None = None             # http: the API address, {month} filled with YYYY-MM
    pagination: str = "none"           # http: none | link | next | page

    @property
    def folder(self) -> str:
        return self.location or self.id


@dataclass(frozen=True)
class Registry:
    agencies: list[Agency]
    mappings: dict[str, dict] = field(default_factory=dict)

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def layout(self, agency: Agency, return_type: str) -> dict:
        """The mapping of one return type for an agency: file name, sheet, renames, markers, unpivot."""
        return self.mappings[agency.mapping]["returns"][return_type]


def load_registry(config_dir: Path | None = None) -> Registry:
    """The registry in config_dir, else $PIPELINE_CONFIG_DIR, else the project's config/."""
    config_dir = Path(config_dir or os.environ.get("PIPELINE_CONFIG_DIR") or CONFIG_DIR)
    raw = yaml.safe_load((config_dir / "sources.yaml").read_text(encoding="utf-8"))
    agencies = [Agency(**entry) for entry in raw["agencies"]]
    for agency in agencies:
        problem = _problem(agency)
        if problem:
            raise ValueError(f"config/sources.yaml, agency {agency.id!r}: {problem}")
    mappings = {a.mapping: yaml.safe_load((config_dir / "mappings" / f"{a.mapping}.yaml").read_text(encoding="utf-8"))
                for a in agencies}
    return Registry(agencies, mappings)


def _problem(agency: Agency) -> str | None:
    """What is wrong with a registry entry, if anything."""
    if agency.connector not in CONNECTORS:
        return f"connector must be one of {', '.join(CONNECTORS)}"
    if not agency.id.replace("_", "").isalnum():
        return "id must be letters, digits and underscores"
    folder = Path(agency.folder)
    if folder.is_absolute() or ".." in folder.parts or len(folder.parts) != 1:
        return f"location {agency.folder!r} must be one folder name under data/landing/ (no '..', no '/')"
    if agency.connector == "http" and not agency.url:
        return "an http source needs a url"
    if not 1 <= agency.return_due_day <= 28:
        return "return_due_day must be 1 to 28"
    return None
