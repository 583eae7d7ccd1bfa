"""Staging reads, normalises and validates many returns in few passes: each pass gives exactly the rows, numbers and
messages of doing it file by file and return by return, and the fast CSV path takes only files it reads exactly."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.staging.csv_batches import read_plain_csvs
from pipelines.defs.staging.readers import read_table
from pipelines.defs.staging.returns import agency_month_parts
from pipelines.lib.config.limits import FileLimits
from tests.test_hostile_properties import EDGES, MARKERS, cell
from tests.test_staging_rules import submitted, wide_layout
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.staging import (AGENCY, FILE, FIRST_MONTH, RETURN_MONTH, ROW, normalise, normalise_files,
                                validate, validate_returns)

LIMITS = FileLimits(max_field_bytes=64, max_line_bytes=256, max_rows=40, max_columns=12)
CATALOGUE = pl.DataFrame({"service_id": ["S1", "S2"], "agency_id": ["AG1", "AG1"],
                          "channels_offered": [["online", "phone"], ["online", "phone"]]})


def as_read(path: Path, layout: ReturnLayout, name: str) -> pl.DataFrame:
    return read_table(path, layout, name, LIMITS).with_columns(pl.lit(name).alias(FILE))


# --- the fast CSV path ----------------------------------------------------------------------------------------

FILES = {  # name -> (bytes, layout, taken by the fast path)
    "plain.csv": (b"service_id,month\nS1,2025-01\nS2,\n", AS_SENT, True),
    "bom.csv": ("\ufeffservice_id;month\nS1;2025-01\n".encode(), AS_SENT, True),
    "spaces.csv": (b" service_id , month\n S1 , 2025-01 \n", AS_SENT, True),
    "quoted.csv": (b'service_id,month\n"S1",2025-01\n', AS_SENT, False),
    "crlf.csv": (b"service_id,month\r\nS1,2025-01\r\n", AS_SENT, False),
    "ragged.csv": (b"service_id,month\nS1\nS2,2025-01\n", AS_SENT, False),
    "blank.csv": (b"service_id,month\n,\nS1,2025-01\n", AS_SENT, False),
    "long.csv": (b"service_id,month\nS1," + b"9" * 100 + b"\n", AS_SENT, False),
    "cp1252.csv": (b"service_id,month\nS\xe91,2025-01\n", {"encoding": "cp1252"}, False),
    "plain.csv.gz": (gzip.compress(b"service_id,month\nS1,2025-01\n", mtime=0), AS_SENT, False),
    "header_only.csv": (b"service_id,month\n", AS_SENT, False),
    "repeated.csv": (b"month,month\n1,2\n", AS_SENT, False),
    "nul.csv": (b"service_id,month\nS\x001,2025-01\n", AS_SENT, False),
}


def test_fast_path_takes_only_plain_files_and_reads_them_as_the_per_file_reader(tmp_path):
    files = []
    for name, (data, layout, _) in FILES.items():
        (tmp_path / name).write_bytes(data)
        files.append((name, tmp_path / name, layout))
    taken = read_plain_csvs(files, LIMITS)
    assert sorted(taken) == sorted(name for name, (_, _, fast) in FILES.items() if fast)
    assert taken["plain.csv"].select(ROW, "service_id", "month", FILE).rows() == [
        (1, "S1", "2025-01", "plain.csv"), (2, "S2", None, "plain.csv")]
    assert taken["spaces.csv"].select("service_id", "month").rows() == [(" S1 ", " 2025-01 ")]
    for name, frame in taken.items():
        assert frame.equals(as_read(tmp_path / name, FILES[name][1], name))


# mostly cells a plain file may hold (edge numbers, markers, spaces, accents), now and then anything at all
plain_cell = st.one_of(st.sampled_from([e for e in EDGES + MARKERS if not set(e) & set(',;"\x00')]),
                       st.text(alphabet=st.sampled_from("ab1 -.é\xa0\u2028"), max_size=6),
                       st.integers(0, 10**6).map(str), cell)


@st.composite
def csv_files(draw) -> tuple[bytes, dict]:
    """CSV returns never quoted by the writer (the cells themselves may hold quotes, delimiters, line breaks)."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 5))
    header = draw(st.lists(st.sampled_from(["service_id", "month", "channel", " a ", "b", "", "c"]), min_size=width,
                           max_size=width, unique=True))
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(0, 5))):  # now and then a row of another width
        ragged = draw(st.integers(0, 19)) == 0
        lines.append(delimiter.join(draw(st.lists(plain_cell, min_size=0 if ragged else width,
                                                  max_size=width + 1 if ragged else width))))
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig"]))), draw(st.sampled_from(
        [AS_SENT, ReturnLayout(file="t.csv", delimiter=";")]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(csv_files(), min_size=1, max_size=4))
def test_files_the_fast_path_takes_read_as_the_per_file_reader_reads_them(generated):
    """Several files at once, as staging hands them over: whichever are taken read as each would on its own."""
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for n, (data, layout) in enumerate(generated):
            (Path(folder) / f"{n}.csv").write_bytes(data)
            files.append((f"return-{n}.csv", Path(folder) / f"{n}.csv", layout))
        taken = read_plain_csvs(files, LIMITS)
        assert set(taken) <= {name for name, _, _ in files}
        for name, path, layout in files:
            if name in taken:
                assert taken[name].equals(as_read(path, layout, name))


# --- normalising several files at once ------------------------------------------------------------------------

WIDE = ["Service code", "Period", "Total completed", "Online", "Telephone", "Face to face", "Post",
        "Assisted digital", "Other"]
HEADERS = ReturnLayout(file="t.csv", rename={"Service": "service_id"},
                       headers=[{"pattern": "{period} {measure}", "measures": {"Digital": "online", "Phone": "phone",
                                                                                "Total": "total"}}])


@pytest.mark.parametrize("layout, columns, rows", [
    (AS_SENT, ["service_id", "month", "channel", "transactions_started", "transactions_completed"],
     [["S1", "2024-04", "online", "10", "8"], ["S2", "2024-04", "phone", "-", "3"]]),
    (wide_layout("transactions"), WIDE,
     [["S1", "Apr 2024", "30", "20", "10", "N/A", "N/A", "N/A", "N/A"], ["S2", "Apr 2024", "9", "-", "9", "N/A",
                                                                         "N/A", "N/A", "N/A"]]),
    (HEADERS, ["Service", "2024-25 Q1 Digital", "2024-25 Q1 Phone", "2024-25 Q1 Total"],
     [["S1", "20", "10", "30"], ["S2", "", "5", "5"]]),
])
def test_files_normalised_together_are_those_normalised_one_by_one(layout, columns, rows):
    first = submitted(columns, rows, "AG1/2024-04/a.csv")
    second = submitted(columns, rows[::-1], "AG1/2024-06/b.csv")  # the same row numbers as the first file
    together = normalise_files(pl.concat([first, second]), layout, "transactions")
    assert together.equals(pl.concat([normalise(first, layout, "transactions"),
                                      normalise(second, layout, "transactions")]))
    sources = together.select(FILE, ROW).unique(maintain_order=True).rows()
    assert sources == [("AG1/2024-04/a.csv", 1), ("AG1/2024-04/a.csv", 2), ("AG1/2024-06/b.csv", 1),
                       ("AG1/2024-06/b.csv", 2)]


# --- validating several agency-months at once -----------------------------------------------------------------

def _return(agency: str, month: str, rows: list[list[str]], name: str) -> pl.DataFrame:
    columns = ["service_id", "month", "channel", "transactions_started", "transactions_completed"]
    return normalise(submitted(columns, rows, name), AS_SENT, "transactions").with_columns(
        pl.lit(agency).alias(AGENCY), pl.lit(f"{month}-01").alias(RETURN_MONTH),
        pl.lit("2024-01-01").alias(FIRST_MONTH))


def test_one_pass_over_several_returns_keeps_each_return_to_itself():
    """The same key in two months' returns is no repeat, a sum over channels is per return, and each message
    names its own return's month."""
    april = _return("AG1", "2024-04", [["S1", "2024-04", "online", "10", "8"], ["S1", "2024-04", "online", "10", "8"],
                                       ["S2", "2024-04", "phone", "70", "60"]], "AG1/2024-04/t.csv")
    may = _return("AG1", "2024-05", [["S1", "2024-04", "online", "10", "8"], ["S2", "2024-04", "online", "70", "60"],
                                     ["S2", "2024-03", "online", "5", "4"], ["S1", "2024-05", "online", "10", "8"]],
                  "AG1/2024-05/t.csv")
    accepted, failed = validate_returns(pl.concat([april, may]), "transactions", CATALOGUE, max_count=100,
                                        history=True)
    assert accepted.select(FILE, ROW, AGENCY).rows() == [
        ("AG1/2024-04/t.csv", 1, "AG1"), ("AG1/2024-04/t.csv", 3, "AG1"), ("AG1/2024-05/t.csv", 1, "AG1"),
        ("AG1/2024-05/t.csv", 2, "AG1"), ("AG1/2024-05/t.csv", 3, "AG1"), ("AG1/2024-05/t.csv", 4, "AG1")]
    assert accepted.get_column("month").cast(pl.String).to_list() == ["2024-04-01"] * 2 + ["2024-05-01"] * 4
    assert failed.select("source_file", "row_number", "rule").rows() == [("AG1/2024-04/t.csv", 2, "duplicate_row")]

    _, outside = validate_returns(may, "transactions", CATALOGUE)  # not history: only the month itself
    assert outside.select("row_number", "message").rows() == [
        (n, "the period does not end in this return's month 2024-05") for n in (1, 2, 3)]
    _, early = validate_returns(may.with_columns(pl.lit("2024-04-01").alias(FIRST_MONTH)), "transactions", CATALOGUE,
                                history=True)
    assert early.select("row_number", "rule", "message").rows() == [
        (3, "period_before_first_month",
         "the period starts before 2024-04, the first month configured (first_month in sources.yaml)")]


def test_validate_of_one_return_is_the_one_pass_over_it():
    source = submitted(["service_id", "month", "channel", "transactions_started", "transactions_completed"],
                       [["S1", "2024-04", "online", "10", "8"], ["S9", "2024-04", "online", "1", "1"]])
    accepted, failed = validate(normalise(source, AS_SENT, "transactions"), "transactions", "AG1", "2024-04-01",
                                CATALOGUE, first_month="2024-01-01")
    assert AGENCY not in accepted.columns and accepted.get_column(ROW).to_list() == [1]
    assert failed.select("row_number", "rule").rows() == [(2, "unknown_service")]


def test_returns_are_staged_in_parts_of_whole_agency_months_so_memory_holds_one_large_file_at_a_time(tmp_path):
    files = []
    for name, agency, size in [("a1", "a", 60), ("b", "b", 30), ("a2", "a", 10), ("c", "c", 100), ("d", "d", 5)]:
        (tmp_path / name).write_bytes(b"x" * size)
        files.append(((name, "sha", agency, "2025-01-01"), (name, tmp_path / name, {}, "canonical")))
    parts = agency_month_parts(files, budget=64)
    # a's two files stay together (70 bytes, over the budget: the part closes); b and c fill the next; d alone
    assert [[file[0][0] for file in part] for part in parts] == [["a1", "a2"], ["b", "c"], ["d"]]
