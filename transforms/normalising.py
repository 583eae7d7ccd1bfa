"""Normalising a submitted table (all cells as text) to the canonical layout, still as text: an agency's
declarative mapping applied (renames, ids derived from names, value labels, markers, scale, month format,
wide-to-long unpivot, header-encoded columns, channels offered listed in the return: `transforms/layouts.py`).

Pure Polars, no I/O and no Dagster. Every step is row by row, so the frame may hold many files of one layout and
header at once (staging normalises each agency's files of one header in one pass); rows made from one source row
stay together, in file order."""

from __future__ import annotations

import polars as pl

from transforms.canonical import COLUMNS, FILE, NUMERIC, PERIOD, REQUIRED, ROW, SHAPE, TOTAL, LayoutError
from transforms.domain import CHANNELS
from transforms.layouts import (ALL, MONTHS, NO_CHANNEL, OFFERED, REPORTED_COLUMNS, from_headers, header_columns,
                                offered_from_return, with_derived_ids, with_periods)
from transforms.mappings import ReturnLayout
from transforms.row_rules import NUMBER_TEXT


def normalise(frame: pl.DataFrame, layout: ReturnLayout, return_type: str) -> pl.DataFrame:
    """Canonical column names and values, still text; `_row_number` and `_source_file` are carried through."""
    frame = frame.rename({k: v for k, v in layout.rename.items() if k in frame.columns})
    text = [c for c in frame.columns if c not in (ROW, FILE, SHAPE)]
    markers = [*layout.not_provided, *layout.not_applicable, *layout.ambiguous]
    frame = frame.with_columns(pl.col(text).str.strip_chars())
    if layout.service_id:
        frame = with_derived_ids(frame, layout.service_id)
    if layout.channels_offered:
        declared = layout.channels_offered
        if declared.column in frame.columns:
            frame = offered_from_return(frame, declared)
        elif declared.markers:
            frame = _offered_from_markers(frame, layout)
        else:
            raise LayoutError(f"missing required column(s): {declared.column}")
    if layout.headers:
        frame = _from_headers(frame, layout)
    elif layout.unpivot:
        frame = _unpivot(frame, layout)
    if layout.thousands:
        frame = frame.with_columns(pl.col(c).str.replace_all(layout.thousands, "", literal=True)
                                   for c in (*NUMERIC, *REPORTED_COLUMNS) if c in frame.columns)
    if markers:
        cells = [c for c in frame.columns if c not in (ROW, FILE, SHAPE, OFFERED, MONTHS)]
        frame = frame.with_columns(pl.when(pl.col(c).is_in(markers)).then(None).otherwise(pl.col(c)).alias(c)
                                   for c in cells)
    if OFFERED in frame.columns and "channel" in frame.columns:  # the return says the channel is not offered
        frame = frame.filter(~(pl.col("channel").is_in(CHANNELS) & pl.col("transactions_completed").is_null()
                               & ~pl.col(OFFERED).list.contains(pl.col("channel"))).fill_null(False))
    for column, labels in layout.values.items():
        if column in frame.columns:
            frame = frame.with_columns(pl.col(column).replace(labels))
    for column, factor in layout.scale.items():
        scaled = (pl.col(column).cast(pl.Float64, strict=False) * factor).round(2)
        frame = frame.with_columns(pl.when(scaled.is_not_null()).then(scaled.cast(pl.String))
                                   .otherwise(pl.col(column)).alias(column))
    if layout.month_format and "month" in frame.columns:
        parsed = pl.col("month").str.strptime(pl.Date, layout.month_format, strict=False)
        frame = frame.with_columns(pl.when(parsed.is_not_null()).then(parsed.cast(pl.String))
                                   .otherwise(pl.col("month")).alias("month"))
    missing = [c for c in REQUIRED[return_type] if c not in frame.columns]
    if missing:
        raise LayoutError(f"missing required column(s): {', '.join(missing)}")
    frame = with_periods(frame, layout.period_grain == "financial_year")
    present = [pl.col(c) if c in frame.columns else pl.lit(None, pl.String).alias(c)
               for c in [*COLUMNS[return_type], SHAPE]]
    extra = [c for c in (TOTAL, *REPORTED_COLUMNS) if c in frame.columns]
    offered = [OFFERED] if OFFERED in frame.columns and return_type == "transactions" else []  # the period's facts
    return frame.select(*present, *PERIOD, *extra, *offered, FILE, ROW)


def _from_headers(frame: pl.DataFrame, layout: ReturnLayout) -> pl.DataFrame:
    read = header_columns(frame.columns, layout.headers)
    keep = [c for c in frame.columns if c not in read and c != "month"] + (["_month"] if "month" in frame.columns
                                                                           else [])
    if "month" in frame.columns:  # a period named in a column, for families whose headers name none
        frame = frame.rename({"month": "_month"})
    try:
        long = from_headers(frame, layout.headers, keep)
    except ValueError as error:
        raise LayoutError(str(error)) from None
    if "_month" in long.columns:
        long = long.with_columns(pl.coalesce("month", "_month").alias("month")).drop("_month")
    return long.filter(~pl.col("transactions_completed").is_in(layout.not_applicable).fill_null(False))


def _unpivot(frame: pl.DataFrame, layout: ReturnLayout) -> pl.DataFrame:
    unpivot = layout.unpivot
    frame, channels = _combined(frame, layout)
    total, value = unpivot.total, unpivot.value
    missing = [c for c in [*([total] if total else []), *channels] if c not in frame.columns]
    if missing:
        raise LayoutError(f"missing required column(s): {', '.join(missing)}")
    if total:
        frame = frame.rename({total: TOTAL})
    index = [c for c in frame.columns if c not in channels]
    # a row whose every channel is marked not applicable keeps one row saying so, for the rules to name
    none_offered = pl.all_horizontal(pl.col(c).is_in(layout.not_applicable).fill_null(False) for c in channels)
    nothing = frame.filter(none_offered).select(index).with_columns(pl.lit(NO_CHANNEL).alias("channel"),
                                                                     pl.lit(None, pl.String).alias(value))
    long = (frame.unpivot(on=list(channels), index=index, variable_name="channel", value_name=value)
            .filter(~pl.col(value).is_in(layout.not_applicable) | pl.col(value).is_null())
            .with_columns(pl.col("channel").replace_strict(channels)))
    if nothing.height:
        long = pl.concat([long, nothing], how="diagonal_relaxed").sort(ROW, maintain_order=True)
    if not total or value != "transactions_completed":
        return long
    # the reported total is also kept, for the whole service (channel 'all'), after the channels of its row
    whole = frame.select(index).with_columns(pl.lit(ALL).alias("channel"), pl.lit(None, pl.String).alias(value),
                                             pl.col(TOTAL).alias("reported_transactions_completed"))
    return pl.concat([long, whole], how="diagonal_relaxed").sort(ROW, maintain_order=True)


def _combined(frame: pl.DataFrame, layout: ReturnLayout) -> tuple[pl.DataFrame, dict[str, str]]:
    """The unpivot's channel columns, those that go to one channel added up into one (`combine`): (frame, their
    column -> our channel). Parts a file lacks are left out; a file with no part of a channel is refused."""
    unpivot, columns = layout.unpivot, dict(layout.unpivot.columns)
    for channel, rule in unpivot.combine.items():
        parts = [c for c, target in unpivot.columns.items() if target == channel]
        present = [c for c in parts if c in frame.columns]
        if not present:
            raise LayoutError(f"missing required column(s): one of {', '.join(parts)}")
        name = f"{channel} ({' + '.join(present)})"
        frame = frame.with_columns(_added_up(present, rule, layout).alias(name)).drop(present)
        columns = {**{c: t for c, t in columns.items() if c not in parts}, name: channel}
    return frame, columns


def _added_up(parts: list[str], rule: str, layout: ReturnLayout) -> pl.Expr:
    """The parts' figures added up exactly, as text. A part marked not applicable adds nothing (all of them: the
    channel is not applicable); one not provided (empty or a marker) makes the sum not provided under `sum`, and is
    left out under `sum_provided` unless every part is; a part that is not a number is the result, for the rules to
    name."""
    markers = [*layout.not_provided, *layout.ambiguous]
    text = [pl.col(p).str.replace_all(layout.thousands, "", literal=True) if layout.thousands else pl.col(p)
            for p in parts]
    not_applicable = [t.is_in(layout.not_applicable).fill_null(False) for t in text]
    missing = [t.is_null() | t.is_in(markers) for t in text]
    wrong = pl.coalesce(pl.when(t.is_not_null() & ~t.is_in([*markers, *layout.not_applicable])
                                & ~t.str.contains(NUMBER_TEXT)).then(t) for t in text)
    number = [pl.when(t.str.contains(NUMBER_TEXT)).then(t.cast(pl.Decimal(38, 9), strict=False)) for t in text]
    total = pl.sum_horizontal(number).cast(pl.String)
    total = pl.when(total.str.contains(r"\.")).then(total.str.strip_chars_end("0").str.strip_chars_end(".")
                                                     ).otherwise(total)
    first_missing = pl.coalesce(pl.when(m).then(t) for m, t in zip(missing, text))
    provided = [~m & ~na for m, na in zip(missing, not_applicable)]
    unprovided = pl.any_horizontal(missing) if rule == "sum" else ~pl.any_horizontal(provided)
    return (pl.when(wrong.is_not_null()).then(wrong)
            .when(pl.all_horizontal(not_applicable)).then(pl.col(parts[0]))
            .when(unprovided).then(first_missing)
            .otherwise(total))


def _offered_from_markers(frame: pl.DataFrame, layout: ReturnLayout) -> pl.DataFrame:
    """`_channels_offered` from each channel's own cells (a file without the channels-offered column): a channel
    whose every cell is marked not applicable is not offered; one with only ambiguous markers (and not applicable
    parts) may or may not be, so the row's list is unknown (null); any other is offered."""
    states = []
    for channel in dict.fromkeys(layout.unpivot.columns.values()):
        parts = [pl.col(c) for c, target in layout.unpivot.columns.items() if target == channel and c in frame.columns]
        if parts:
            not_applicable = pl.all_horizontal(p.is_in(layout.not_applicable).fill_null(False) for p in parts)
            offered = pl.any_horizontal(~p.is_in([*layout.not_applicable, *layout.ambiguous]).fill_null(True)
                                        for p in parts)
            states.append((channel, offered, ~offered & ~not_applicable))
    listed = pl.concat_list(pl.when(offered).then(pl.lit(channel)) for channel, offered, _ in states)
    unknown = pl.any_horizontal(unknown for *_, unknown in states)
    return frame.with_columns(pl.when(unknown).then(None).otherwise(listed.list.drop_nulls().list.sort())
                              .alias(OFFERED))


def normalise_files(frame: pl.DataFrame, layout: ReturnLayout, return_type: str) -> pl.DataFrame:
    """`normalise` over several files of one layout and one header at once: the same rows as normalising each file
    on its own and putting the results one after another, files in the order they come in `frame`."""
    files = frame.get_column(FILE).unique(maintain_order=True)
    order = pl.col(FILE).replace_strict(files, pl.int_range(files.len(), eager=True), return_dtype=pl.UInt32)
    return normalise(frame, layout, return_type).sort(order, maintain_order=True)
