"""Great Expectations suites (suites.py) and their runner (runner.py)."""

import os
import sys
import warnings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported

# Great Expectations imports pyspark whenever it is installed (the Spark engine's extra), and pyspark then warns
# that it does not support pandas 3; no suite here runs on Spark, so that one warning is not for our readers.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

# pyspark, which Great Expectations imports whenever it is installed, takes a __main__ with neither a spec nor a
# file (`python -c`, a test worker) for a doctest run and ends the process there, with status 0. Such a __main__
# is given a file name for as long as Great Expectations takes to import.
_main = sys.modules.get("__main__")
if _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<string>"
    try:
        import great_expectations  # noqa: F401
    finally:
        del _main.__file__
