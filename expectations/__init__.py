"""Great Expectations suites (suites.py) and their runner (runner.py). Importing the package imports Great
Expectations, configured for this project: analytics off, and three libraries it imports at the top of a module but
uses only inside functions no suite here calls, imported when first used."""

import importlib
import os
import sys
import types
import warnings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported

# Great Expectations imports pyspark whenever it is installed (the Spark engine's extra and the tests install it).
# pyspark warns that it does not support pandas 3 (not for our readers), and it takes a __main__ with neither a spec
# nor a file (`python -c`, a test worker) for a doctest run and ends the process there with status 0: such a __main__
# is given a file name while Great Expectations imports.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


class _OnFirstUse(types.ModuleType):
    """A stand-in for a module, in sys.modules while Great Expectations imports: the first time anything on it is
    used, the real module is imported (and from then on in sys.modules) and the stand-in hands everything to it."""

    def __getattr__(self, name: str):
        module = sys.modules.get(self.__name__)
        if module is None or module is self:
            sys.modules.pop(self.__name__, None)
            module = importlib.import_module(self.__name__)
        return getattr(module, name)


# scipy.stats (KL divergence and KS tests), altair (their charts) and mistune (HTML rendering), for functions our
# suites never call: the stand-ins save 1.1 s of CPU of the run's first check (importing this package: 1.85 s against
# 2.98 s of CPU, medians of 7 fresh processes taken in turns at load 15-18, 2026-12-07).
_ON_FIRST_USE = [name for name in ("scipy.stats", "altair", "mistune") if name not in sys.modules]
_main = sys.modules.get("__main__")
_fileless_main = _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__")
for _name in _ON_FIRST_USE:
    sys.modules[_name] = _OnFirstUse(_name)
if _fileless_main:
    _main.__file__ = "<string>"
try:
    import great_expectations  # noqa: F401
finally:
    if _fileless_main:
        del _main.__file__
    for _name in _ON_FIRST_USE:  # a later `import scipy.stats` imports the real module as usual
        if isinstance(sys.modules.get(_name), _OnFirstUse):
            del sys.modules[_name]
