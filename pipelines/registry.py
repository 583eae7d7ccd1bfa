"""The source registry (config/sources.yaml) and the mapping files it names (config/mappings/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
RETURN_TYPES = ("transactions", "costs", "satisfaction")


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    department: str
    connector: str
    format: str
    mapping: str
    return_due_day: int
    credential_env: str | None = None


@dataclass(frozen=True)
class Registry:
    agencies: list[Agency]
    mappings: dict[str, dict] = field(default_factory=dict)

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def layout(self, agency: Agency, return_type: str) -> dict:
        """The mapping of one return type for an agency: file name, sheet, renames, markers, unpivot."""
        return self.mappings[agency.mapping]["returns"][return_type]


def load_registry(config_dir: Path = CONFIG_DIR) -> Registry:
    raw = yaml.safe_load((config_dir / "sources.yaml").read_text(encoding="utf-8"))
    agencies = [Agency(**entry) for entry in raw["agencies"]]
    mappings = {a.mapping: yaml.safe_load((config_dir / "mappings" / f"{a.mapping}.yaml").read_text(encoding="utf-8"))
                for a in agencies}
    return Registry(agencies, mappings)
