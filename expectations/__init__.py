"""Great Expectations suites (suites.py), evaluated in DuckDB SQL (sql.py) or by Great Expectations itself
(runner.py, which imports it), both giving a plain result (result.py)."""
