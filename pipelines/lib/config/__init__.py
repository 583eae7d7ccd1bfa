"""The configuration in config/ as typed models: `load_config(config_dir)` reads and checks every file and raises
one ConfigError naming file, entry and key of every problem. sources.yaml is the agency registry, mappings/*.yaml
the agencies' layouts (their models live in transforms/mappings.py, beside normalising, which reads them),
housekeeping.yaml the retention policy, open_data.yaml the data package's metadata, limits.yaml how much of a
submission is read."""

from pipelines.lib.config.loading import PROJECT_CONFIG_DIR, Config, ConfigError, Problem, load_config
from pipelines.lib.config.limits import Limits
from pipelines.lib.config.metadata import Housekeeping, OpenData
from pipelines.lib.config.sources import CYCLE_DAY, Agency, Registry, Spark
from transforms.domain import RETURN_TYPES
from transforms.mappings import MappingFile, ReturnLayout

__all__ = ["CYCLE_DAY", "PROJECT_CONFIG_DIR", "RETURN_TYPES", "Agency", "Config", "ConfigError", "Housekeeping",
           "Limits", "MappingFile", "OpenData", "Problem", "Registry", "ReturnLayout", "Spark", "load_config"]
