"""Staging holds for any return: generated files of random cells (text, numbers at the edges, markers, quotes,
delimiters, encodings) never raise out of reading and validation, every row read is accepted or quarantined, every
accepted value is a finite, in-range number, and a file set aside whole has one quarantine row: no row number, a
whole-file rule and a reason."""

import math
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from pipelines.defs.staging.passes import file_failure
from pipelines.defs.staging.readers import ParseError, read_table
from pipelines.lib.config.limits import FileLimits
from transforms.mappings import AS_SENT, ReturnLayout
from transforms.staging import FILE, ROW, LayoutError, normalise, validate

HEADER = ["service_id", "month", "channel", "transactions_started", "transactions_completed"]
COST_HEADER = ["service_id", "month", "cost_category", "channel", "cost_gbp"]
CATALOGUE = pl.DataFrame({"service_id": ["S1", "S2"], "agency_id": ["AG1", "AG1"],
                          "channels_offered": [["online", "phone"], ["online"]]})
EDGES = ["0", "-0", "-1", "1", "12.0", "1e3", "2.5E+2", "9007199254740993", "9223372036854775807",
         "9223372036854775808", "99999999999999999999999999999999", "1e400", "-1e400", "nan", "NaN", "inf", "-inf",
         "Infinity", "1e20", "0.005", "12.345", "1,000", " 7 ", "+5", ".5", "5.", "0x10", "1_000", "١٢"]
MARKERS = ["", "-", "***", "ND", "N/A", "#REF!", "..", "x", "=SUM(A1)", "\x00"]
LIMITS = FileLimits(max_field_bytes=64, max_line_bytes=256, max_rows=40, max_columns=12)
# The rules of a file set aside whole (README, "Quarantine rules"): unreadable, or over a limit of config/limits.yaml.
WHOLE_FILE_RULES = {"unreadable_file", "file_too_large", "decompression_limit", "sheet_too_large", "too_many_columns",
                    "too_many_rows"}

cell = st.one_of(st.sampled_from(EDGES), st.sampled_from(MARKERS), st.sampled_from(["S1", "S2", "S9"]),
                 st.sampled_from(["2025-01", "Jan 2025", "0000-01", "9999-12", "2025-13", "2024-25"]),
                 st.sampled_from(["online", "phone", "fax", "staff", "shared"]),
                 st.text(alphabet=st.sampled_from('ab1,;\t"\'\n\r é'), max_size=12),
                 st.text(max_size=6), st.integers(-(2**70), 2**70).map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.just("9" * 80))
number = st.one_of(st.sampled_from(EDGES), st.integers(0, 2**64).map(str),
                   st.decimals(0, 10**13, places=3, allow_nan=False).map(str))
PLAUSIBLE = {"service_id": st.sampled_from(["S1", "S2"]), "month": st.just("2025-01"),
             "channel": st.sampled_from(["online", "phone"]), "cost_category": st.sampled_from(["staff", "it"])}


@st.composite
def row(draw, header: list[str]) -> list[str]:
    """Mostly a plausible row with edge numbers; sometimes one cell anything at all, or a row of another width."""
    cells = [draw(PLAUSIBLE.get(column, number)) for column in header]
    if draw(st.booleans()):
        cells[draw(st.integers(0, len(cells) - 1))] = draw(cell)
    if draw(st.integers(0, 9)) == 0:
        cells = cells[:draw(st.integers(1, len(cells)))] + draw(st.lists(cell, max_size=2))
    return cells


def quoted(value: str, quote: bool) -> str:
    return '"' + value.replace('"', '""') + '"' if quote else value


@st.composite
def returns(draw) -> tuple[bytes, str, dict]:
    return_type = draw(st.sampled_from(["transactions", "costs"]))
    header = HEADER if return_type == "transactions" else COST_HEADER
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    lines = [delimiter.join(header)] + [
        delimiter.join(quoted(c, draw(st.booleans())) for c in draw(row(header)))
        for _ in range(draw(st.integers(1, 12)))]
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    layout = ReturnLayout(file="t.csv", encoding="cp1252") if encoding == "cp1252" and draw(st.booleans()) \
        else AS_SENT
    return text.encode(encoding, errors="replace"), return_type, layout


def stage(data: bytes, return_type: str, layout: ReturnLayout) -> tuple[int, pl.DataFrame, pl.DataFrame, bool]:
    """(rows read, accepted, quarantined, whether the file was set aside whole) as staging makes them; a file set
    aside whole has no rows read and its quarantine row from the staging step's own `file_failure`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{return_type}.csv"
        path.write_bytes(data)
        try:
            frame = read_table(path, layout, limits=LIMITS).with_columns(pl.lit(path.name).alias(FILE))
            normalised = normalise(frame, layout, return_type)
        except (ParseError, LayoutError) as error:
            return 0, pl.DataFrame(), file_failure(path.name, error), True
    accepted, quarantined = validate(normalised, return_type, "AG1", "2025-01-01", CATALOGUE)
    return frame.height, accepted, quarantined, False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(returns())
@example((b"", "costs", AS_SENT))  # set aside whole when read
@example((b"service_id,month\nS1,2025-01\n", "costs", AS_SENT))  # set aside whole when normalised: columns missing
def test_every_row_or_file_set_aside_is_quarantined_and_accepted_values_are_finite(generated):
    data, return_type, layout = generated
    read, accepted, quarantined, set_aside = stage(data, return_type, layout)
    if set_aside:
        [(name, row, rule, reason, message)] = quarantined.select(
            "source_file", "row_number", "rule", "offending_value", "message").rows()
        assert (name, row, read, accepted.height) == (f"{return_type}.csv", None, 0, 0)
        assert rule in WHOLE_FILE_RULES and reason.strip() and message == f"the file could not be read: {reason}"
        event(f"set aside whole: {rule}")  # how often, in --hypothesis-show-statistics
    else:
        assert quarantined.select("source_file", "row_number").n_unique() == quarantined.height
        assert read == accepted.height + quarantined.height
        assert set(accepted.get_column(ROW)).isdisjoint(quarantined.get_column("row_number"))
        if return_type == "transactions":
            for column in ("transactions_started", "transactions_completed"):
                assert accepted.schema[column] == pl.Int64
                values = accepted.get_column(column).drop_nulls()
                assert ((values >= 0) & (values <= 2**63 - 1)).all()
        else:
            assert accepted.schema["cost_gbp"] == pl.Float64
            assert all(math.isfinite(v) and 0 <= v <= 1e12 for v in accepted.get_column("cost_gbp"))
