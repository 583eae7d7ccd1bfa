"""The submission portal's audit records, in the warehouse and so in the open data (`portal_submissions`, beside
`submission_accounting`): one row per return submitted through the portal, with who submitted it, when, its sha256,
size and the feedback they were shown. The portal keeps them in its own SQLite file (pipelines/portal/store.py),
apart from the warehouse; this step reads that file read-only, so a portal that is down or was never started
never stops a run (no file: no rows). Nothing secret or personal is copied: no password hash, token or session key
is in the uploads table, and who submitted is published as the kind of account (an agency, central or administrator
account, or the agency's API token), not as the person's email address, which stays in the portal's own store for
the agency's and the central team's audit."""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import dagster as dg

from pipelines.lib.resources import WAREHOUSE_POOL, DataStore
from transforms.catalogue import CATALOGUE

# The portal's uploads table, as pipelines/portal/store.py writes it: the submitted ones
# and the kind of account that submitted each (an account removed since is named so)
SUBMITTED = ("SELECT u.landing_path, u.sha256, u.size_bytes, u.agency_id, u.month || '-01', "
             "CASE WHEN u.uploaded_by LIKE 'api:%' THEN 'api token' "
             "ELSE coalesce(a.role || ' account', 'account since removed') END, u.uploaded_at, u.submitted_at, "
             "u.feedback FROM uploads u LEFT JOIN accounts a ON a.email = u.uploaded_by "
             "WHERE u.submitted_at IS NOT NULL ORDER BY u.submitted_at, u.landing_path")


def submitted(path: Path) -> list[tuple]:
    """The rows of portal_submissions, in its columns' order, from the portal's store at `path`."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)) as con:
        rows = con.execute(SUBMITTED).fetchall()
    rows_out = []
    for *record, feedback in rows:
        shown = json.loads(feedback)
        counts = [shown["preview"][key] for key in ("rows_read", "rows_accepted", "rows_quarantined")]
        rows_out.append((*record, *counts, json.dumps(shown, sort_keys=True, ensure_ascii=False)))
    return rows_out


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", description=CATALOGUE["portal_submissions"].description,
          kinds={"duckdb"})
def portal_submissions(store: DataStore) -> dg.MaterializeResult:
    rows = submitted(store.portal_store)
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM portal_submissions")
        if rows:  # DuckDB's executemany refuses an empty list
            con.executemany(f"INSERT INTO portal_submissions VALUES ({', '.join('?' * 12)})", rows)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={"dagster/row_count": len(rows), "store": str(store.portal_store)})
