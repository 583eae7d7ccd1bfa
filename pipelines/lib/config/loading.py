"""Loading config/ into one Config, with every problem found reported in one ConfigError that names, for each,
the file, the entry (agency, mapping and return, section, field) and the key."""

from __future__ import annotations

import difflib
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError, model_validator

from pipelines.lib.config.base import Model, raise_broken
from pipelines.lib.config.limits import Limits
from pipelines.lib.config.metadata import Housekeeping, OpenData
from pipelines.lib.config.sources import Agency, Registry
from transforms.domain import RETURN_TYPES
from transforms.mappings import MappingFile, ReturnLayout

PROJECT_CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "registry": ("sources.yaml", Registry), "housekeeping": ("housekeeping.yaml", Housekeeping),
    "open_data": ("open_data.yaml", OpenData), "limits": ("limits.yaml", Limits)}
OPTIONAL = {"limits"}  # without the file, its model's defaults (limits.yaml: the documented limits)


class Config(Model):
    """Everything in config/, with the rules that span files: each agency's mapping exists and fits its connector."""

    registry: Registry
    mappings: dict[str, MappingFile]
    housekeeping: Housekeeping
    open_data: OpenData
    limits: Limits = Limits()

    @property
    def agencies(self) -> list[Agency]:
        return self.registry.agencies

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def mapping(self, agency: Agency) -> MappingFile:
        return self.mappings[agency.mapping]

    def facts_from_return(self, agency_id: str) -> bool:
        """Whether the agency's own files' service facts win over the central catalogue's (`service_facts:
        return` in its mapping)."""
        returns = self.mappings[self.agency(agency_id).mapping].returns
        return returns is not None and returns.service_facts == "return"

    def layout(self, agency: Agency, return_type: str) -> ReturnLayout | None:
        """The layout of one return type of an agency; None for a Performance-Platform agency, which sends records
        (a file-drop or http agency has all three)."""
        returns = self.mappings[agency.mapping].returns
        return getattr(returns, return_type) if returns else None

    @model_validator(mode="after")
    def _mappings_fit(self) -> Config:
        problems = []
        for index, agency in enumerate(self.agencies):
            key, mapping = ("registry", "agencies", index, "mapping"), self.mappings.get(agency.mapping)
            if mapping is None:
                problems.append((key, f"there is no mappings/{agency.mapping}.yaml"))
            elif agency.connector == "performance_platform" and mapping.records is None:
                problems.append((key, f"mapping '{agency.mapping}' has no records, which a performance_platform "
                                      "agency sends"))
            elif agency.connector != "performance_platform" and mapping.returns is None:
                problems.append((key, f"mapping '{agency.mapping}' has no returns, which a {agency.connector} "
                                      "agency sends"))
            elif agency.connector == "http":
                extracts = [t for t in RETURN_TYPES if getattr(mapping.returns, t).file is None]
                if extracts:
                    problems.append((key, f"mapping '{agency.mapping}' names no file for {', '.join(extracts)}: an "
                                          "http agency's returns are fetched into the files its mapping names"))
        raise_broken(problems)
        return self


# Every key of every file, for "did you mean": the fields of every model (each derives from Model directly).
KNOWN_KEYS = sorted({name for model in Model.__subclasses__() for name in model.model_fields})


@dataclass(frozen=True)
class Problem:
    file: Path
    entry: str | None  # "agency 'revenue'", "mapping 'xlsx_wide', return 'costs'", "line 3, column 5", ...
    key: str | None  # "url", "unpivot.total", "licenses[0].path"
    message: str

    def __str__(self) -> str:
        where = ", ".join(part for part in (self.entry, self.key and f"key '{self.key}'") if part)
        return f"{self.file}: {where + ': ' if where else ''}{self.message}"


class ConfigError(ValueError):
    """The configuration does not hold; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(f"the configuration has {count}:\n" + "\n".join(f"  {p}" for p in problems))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML as PyYAML's safe loader reads it, except that a key given twice in one mapping is an error (PyYAML
    would silently keep the last)."""

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        for index, key in enumerate(keys):
            if isinstance(key, Hashable) and key in keys[:index]:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                        node.value[index][0].start_mark)
        return super().construct_mapping(node, deep=deep)


def load_config(config_dir: Path) -> Config:
    """Every file of config_dir read and checked; raises ConfigError listing every problem found. Rules between
    files (an agency's mapping exists and fits its connector) are checked once every file holds on its own."""
    config_dir = Path(config_dir)
    problems: list[Problem] = []
    raw = {part: _read_yaml(config_dir / name, problems) for part, (name, _) in FILES.items()
           if part not in OPTIONAL or (config_dir / name).exists()}
    raw["mappings"] = {path.stem: _read_yaml(path, problems)
                       for path in sorted((config_dir / "mappings").glob("*.yaml"))}
    parts = {part: _validated(model, raw[part], (part,), raw, config_dir, problems)
             for part, (_, model) in FILES.items() if raw.get(part) is not None}
    parts["mappings"] = {name: _validated(MappingFile, data, ("mappings", name), raw, config_dir, problems)
                         for name, data in raw["mappings"].items() if data is not None}
    if problems:
        raise ConfigError(problems)
    try:
        return Config(**parts)
    except ValidationError as error:
        raise ConfigError(_problems(error.errors(), (), raw, config_dir)) from None


def _read_yaml(path: Path, problems: list[Problem]):
    """The file's YAML, or None with the problem recorded."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a safe loader (above)
    except FileNotFoundError:
        problems.append(Problem(path, None, None, "the file is missing"))
        return None
    except UnicodeDecodeError as error:
        problems.append(Problem(path, None, None, f"the file is not UTF-8 text (byte {error.start})"))
        return None
    except OSError as error:
        problems.append(Problem(path, None, None, f"the file cannot be read: {error.strerror}"))
        return None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problems.append(Problem(path, f"line {mark.line + 1}, column {mark.column + 1}", None,
                                f"not valid YAML: {error.problem or error.context}"))
        return None
    except yaml.YAMLError as error:
        problems.append(Problem(path, None, None, f"not valid YAML: {error}"))
        return None
    if data is None:
        problems.append(Problem(path, None, None, "the file is empty"))
    return data


def _validated(model: type[BaseModel], data, prefix: tuple, raw: dict, config_dir: Path, problems: list[Problem]):
    """The model of `data`, or None with every problem recorded. pydantic checks the rules across keys only once
    every key holds, so an unknown key would hide them: the data is checked again without its unknown keys, until
    no new problem is found."""
    details: list[dict] = []
    while True:
        try:
            checked = model.model_validate(data)
            break
        except ValidationError as error:
            seen = {_said(d) for d in details}
            new = [d for d in error.errors() if _said(d) not in seen]
            details += new
            unknown = [d["loc"] for d in new if d["type"] == "extra_forbidden"]
            if not unknown:
                break
            data = _without(data, unknown)
    problems.extend(_problems(details, prefix, raw, config_dir))
    return None if details else checked


def _said(detail: dict) -> tuple:
    """What an error says, where: the same in every pass (its error objects are not)."""
    return detail["loc"], detail["msg"], repr(detail.get("ctx", {}).get("problems"))


def _without(data, keys: list[tuple]):
    """A copy of `data` without the keys at the locations given (each a path of keys and list indices)."""
    if not isinstance(data, dict | list):
        return data
    here = {loc[0] for loc in keys if len(loc) == 1}
    inner = [(loc[0], loc[1:]) for loc in keys if len(loc) > 1]
    if isinstance(data, list):
        return [_without(v, [rest for i, rest in inner if i == n]) for n, v in enumerate(data)]
    return {k: _without(v, [rest for i, rest in inner if i == k]) for k, v in data.items() if k not in here}


def _problems(details: list[dict], prefix: tuple, raw: dict, config_dir: Path) -> list[Problem]:
    """pydantic's errors (`ValidationError.errors()`) as problems. A typo of a required key is one problem (the
    unknown key, with the key it resembles), not two."""
    found = []  # (location, message, the kind of pydantic error)
    for detail in details:
        loc = prefix + tuple(detail["loc"])
        if detail["type"] == "config_rules":
            found += [(loc + key, message, "rule") for key, message in detail["ctx"]["problems"]]
        else:
            found.append((loc, _message(detail), detail["type"]))
    typos = {loc[:-1] + (_resembles(loc[-1]),) for loc, _, kind in found if kind == "extra_forbidden"}
    return [Problem(config_dir / file, entry, key, message) for loc, message, kind in found
            if not (kind == "missing" and loc in typos) for file, entry, key in [_where(loc, raw)]]


def _resembles(key) -> str | None:
    matches = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1, cutoff=0.75)
    return matches[0] if matches else None


def _message(detail: dict) -> str:
    """A pydantic error in the words of a configuration file. Values are repeated only where they are a choice
    among names (a credential_env or url could hold a secret)."""
    kind = detail["type"]
    if kind == "extra_forbidden":
        like = _resembles(detail["loc"][-1])
        return "unknown key" + (f" (did you mean '{like}'?)" if like else "")
    if kind == "missing":
        return "missing (required)"
    if kind == "literal_error":
        return f"must be one of {detail['ctx']['expected']}, not {str(detail['input'])[:40]!r}"
    if kind == "value_error":
        return str(detail["ctx"]["error"])
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping (key: value)"
    return detail["msg"].replace("Input should be", "must be", 1)


def _where(loc: tuple, raw: dict) -> tuple[str, str | None, str | None]:
    """(file relative to the config folder, entry, key) of a location in Config."""
    part, rest = loc[0], loc[1:]
    if part == "mappings":
        name, rest = rest[0], rest[1:]
        if len(rest) >= 3 and rest[0] == "returns":
            return f"mappings/{name}.yaml", f"mapping '{name}', return '{rest[1]}'", _key(rest[2:])
        return f"mappings/{name}.yaml", f"mapping '{name}'", _key(rest)
    file = FILES[part][0]
    if part == "registry" and len(rest) >= 2 and rest[0] == "agencies" and isinstance(rest[1], int):
        return file, _agency(raw["registry"], rest[1]), _key(rest[2:])
    if len(rest) >= 2:
        return file, str(rest[0]), _key(rest[1:])
    return file, None, _key(rest)


def _agency(registry, index: int) -> str:
    """An agency entry by its id as written, else by its place in the list."""
    entry = registry["agencies"][index]
    return f"agency '{entry['id']}'" if isinstance(entry, dict) and isinstance(entry.get("id"), str) \
        else f"agency #{index + 1}"


def _key(path: tuple) -> str | None:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".") or None
