"""Great Expectations suites (suites.py) and their runner (runner.py). Importing the package imports Great
Expectations, configured for this project: analytics off, and pyspark out of the way."""

import os
import sys
import warnings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported

# Great Expectations imports pyspark whenever it is installed (the Spark engine's extra installs it), and pyspark
# brings pyspark.ml and scipy: a few tenths of a second of every run's first check. No suite runs on Spark, so
# Great Expectations is imported with pyspark hidden (it then treats Spark as not installed), unless this process has
# imported pyspark already. Once imported, pyspark warns that it does not support pandas 3 (not for our readers),
# and it takes a __main__ with neither a spec nor a file (`python -c`, a test worker) for a doctest run and ends the
# process there with status 0: such a __main__ is given a file name while Great Expectations imports.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
_hide_pyspark = "pyspark" not in sys.modules
_main = sys.modules.get("__main__")
_fileless_main = _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__")
if _hide_pyspark:
    sys.modules["pyspark"] = None  # `import pyspark` raises ImportError
if _fileless_main:
    _main.__file__ = "<string>"
try:
    import great_expectations  # noqa: F401
finally:
    if _hide_pyspark:
        del sys.modules["pyspark"]  # a later `import pyspark` (the Spark engine's tests) finds it as usual
    if _fileless_main:
        del _main.__file__
