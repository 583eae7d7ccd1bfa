"""The sort-free proof that an agency-month's transaction ids do not repeat (extract_ids_ascending.sql,
ids_proven_unique) holds only when it must: ids ascending in every file and the files' ranges apart; any repeat,
disorder or overlap sends the month to the full duplicate check."""

import duckdb
import pytest

from pipelines.defs.staging.extracts import ids_proven_unique


def proven_unique(tmp_path, files: list[list]) -> bool:
    """Write each list of ids as one Parquet file, in that row order, and ask the query."""
    con = duckdb.connect(config={"preserve_insertion_order": True, "threads": 2})
    paths = []
    for index, ids in enumerate(files):
        path = tmp_path / f"extract-{index}.parquet"
        # small row groups, so the file is read as several chunks (the order must hold across them)
        con.execute(f"COPY (SELECT unnest(CAST($ids AS VARCHAR[])) AS transaction_id) TO '{path}' "
                    "(FORMAT parquet, ROW_GROUP_SIZE 2048)", {"ids": ids})
        paths.append(str(path))
    return ids_proven_unique(paths)


def ids(first: int, count: int) -> list[str]:
    return [f"T-{n:08d}" for n in range(first, first + count)]


@pytest.mark.parametrize(("files", "expected"), [
    ([ids(0, 10_000), ids(10_000, 5_000)], True),                     # ascending, files apart
    ([ids(10_000, 5_000), ids(0, 10_000)], True),                     # files in any order, ranges apart
    ([[*ids(0, 3), None, *ids(3, 3)]], True),                         # rows without an id are left out
    ([ids(0, 10_000), ids(9_999, 5_000)], False),                     # the last id of one is the first of the next
    ([ids(0, 10_000), [*ids(20_000, 10), "T-00000005"]], False),      # an id of the first inside the second
    ([[*ids(0, 5_000), "T-00004999", *ids(5_000, 5_000)]], False),    # an id twice in a row, past a row group
    ([[*ids(0, 5_000), *ids(4_000, 10)]], False),                     # an id repeated further on
    ([list(reversed(ids(0, 100)))], False),                           # unique but descending: not proven here
    ([ids(0, 100)[::2], ids(0, 100)[1::2]], False),                   # unique, but the files' ranges overlap
    ([[]], True),                                                     # an empty file
])
def test_only_ascending_ids_in_files_apart_are_proven_unique(tmp_path, files, expected):
    assert proven_unique(tmp_path, files) is expected
