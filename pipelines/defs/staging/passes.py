"""Normalising and validating a run's returns in few passes, with exactly the outcome of doing it file by file and
agency-month by agency-month: the files of one mapping with one header (of any agencies and months) are normalised
together, and the agency-months whose normalised frames have one shape are validated together.

Where a batch fails as a whole, it is done again piece by piece (each file, each agency-month) so that the file or
month that broke it is set aside with its own reason, and nothing else is."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl

from pipelines.defs.staging.accounting import whole_file
from pipelines.defs.staging.readers import ParseError
from transforms.mappings import ReturnLayout
from transforms.staging import (AGENCY, FILE, FIRST_MONTH, RETURN_MONTH, LayoutError, normalise, normalise_files,
                                validate_returns)


def file_failure(source_path: str, error: Exception) -> pl.DataFrame:
    if isinstance(error, (ParseError, LayoutError)):
        return whole_file(source_path, str(error), getattr(error, "rule", "unreadable_file"))
    return whole_file(source_path, f"{type(error).__name__}: {str(error)[:300]}")


def normalised_files(batch: list[tuple[str, pl.DataFrame]], layout: ReturnLayout, return_type: str):
    """(source_path, normalised frame or None, failure or None) for each file of a batch: files of one mapping
    and one header, as read (with `_source_file`), in the order they arrived."""
    if len(batch) > 1:
        try:
            together = normalise_files(pl.concat([frame for _, frame in batch]), layout, return_type)
        except Exception:  # noqa: BLE001 - done again file by file, so the file that broke it is named
            pass
        else:
            parts = together.partition_by(FILE, maintain_order=True, as_dict=True)
            return [(path, parts.get((path,), together.clear()), None) for path, _ in batch]
    results = []
    for path, frame in batch:
        try:
            results.append((path, normalise(frame, layout, return_type), None))
        except Exception as error:  # noqa: BLE001 - one file that breaks the layout's code never stops the others
            results.append((path, None, file_failure(path, error)))
    return results


def validated(months: list[tuple[tuple[str, dt.date, str], bool, list[tuple[str, pl.DataFrame]]]],
              return_type: str, catalogue: pl.DataFrame, max_count: int, max_cost_gbp: float):
    """Validate agency-months: each ((agency_id, month, first_month YYYY-MM-DD), the layout's `history`,
    [(source_path, normalised)]), in order. Returns (accepted rows with agency_id, quarantined rows, the source
    paths validated), rows in the order of the agency-months given, as if each had been validated on its own; an
    agency-month whose validation fails is set aside whole, file by file."""
    shapes, accepted, failed, done = defaultdict(list), [], [], []
    for order, ((agency_id, month, first_month), history, parts) in enumerate(months):
        try:
            combined = pl.concat([normalised for _, normalised in parts], how="diagonal_relaxed").with_columns(
                pl.lit(agency_id).alias(AGENCY), pl.lit(month.isoformat()).alias(RETURN_MONTH),
                pl.lit(first_month).alias(FIRST_MONTH))
        except Exception as error:  # noqa: BLE001 - one agency's month that breaks validation stops nobody else
            failed.append(_set_aside(parts, error).with_columns(pl.lit(order, pl.Int64).alias("_order")))
            continue
        shapes[(tuple(combined.schema.items()), history)].append((order, combined, parts))
    for (_, history), group in shapes.items():
        batches = [group]
        try:
            results = [validate_returns(pl.concat([combined for _, combined, _ in group]), return_type, catalogue,
                                        max_count, max_cost_gbp, history)]
        except Exception:  # noqa: BLE001 - done again month by month, so the month that broke it is named
            batches, results = [[member] for member in group], []
            for (_, combined, parts), in batches:
                try:
                    results.append(validate_returns(combined, return_type, catalogue, max_count, max_cost_gbp,
                                                    history))
                except Exception as error:  # noqa: BLE001 - one agency's month that breaks validation stops nobody else
                    results.append((None, _set_aside(parts, error)))
        for members, (good, bad) in zip(batches, results):
            files = {path: order for order, _, parts in members for path, _ in parts}
            if good is not None:
                accepted.append(good.rename({AGENCY: "agency_id"}).with_columns(_order(FILE, files)))
                done += list(files)
            failed.append(bad.with_columns(_order("source_file", files)))
    by_order = [pl.concat(frames, how="diagonal_relaxed").sort("_order", maintain_order=True).drop("_order")
                if frames else None for frames in (accepted, failed)]
    return *by_order, done


def _set_aside(parts: list[tuple[str, pl.DataFrame]], error: Exception) -> pl.DataFrame:
    reason = f"{type(error).__name__}: {str(error)[:300]}"
    return pl.concat([whole_file(path, reason) for path, _ in parts])


def _order(column: str, files: dict[str, int]) -> pl.Expr:
    return pl.col(column).replace_strict(files, return_dtype=pl.Int64).alias("_order")
