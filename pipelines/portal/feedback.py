"""The feedback an upload gets, as shown and as recorded: what a run would make of the file (`pipelines.preview`) and
how its whole-service figures compare with the agency's last published month. The comparison is the pipeline's own
warning check: the ratios of `transforms/sql/check_month_on_month.sql` over the published `kpi_cost_per_transaction`
with the return's months in place of the published ones, flagged beyond `MONTH_ON_MONTH_JUMP`, as the
`month_on_month_jumps` check will flag them after the run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict

from pipelines.preview import Preview
from transforms import sql
from transforms.domain import MONTH_ON_MONTH_JUMP

FIGURES = {"service_id": pl.String, "month": pl.Date, "channel": pl.String, "transactions_completed": pl.Int64,
           "cost_per_transaction_gbp": pl.Float64}


class Comparison(BaseModel):
    """A month the return gives for a service, against the last month published before it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_id: str
    month: dt.date
    transactions_completed: int | None
    volume_ratio: float | None  # this month's / the last published month's; None: nothing to compare with
    cost_per_transaction_gbp: float | None
    cost_per_transaction_ratio: float | None

    @property
    def jumps(self) -> list[str]:
        """What moved more than MONTH_ON_MONTH_JUMP times either way."""
        return [what for what, ratio in (("transactions completed", self.volume_ratio),
                                         ("cost per transaction", self.cost_per_transaction_ratio))
                if ratio is not None and not 1 / MONTH_ON_MONTH_JUMP <= ratio <= MONTH_ON_MONTH_JUMP]


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    preview: Preview
    compared: list[Comparison]


def compared(published: Path, preview: Preview) -> list[Comparison]:
    """Each figure of the return's services (those with accepted rows) with its month-on-month ratios against the
    published months before it."""
    figures = [f for f in preview.figures if f.service_id in preview.services]
    path = published / "kpi_cost_per_transaction.parquet"
    if not figures or not path.exists():
        return []
    new = pl.DataFrame([{**f.model_dump(), "channel": "all"} for f in figures], schema=FIGURES)
    earlier = (pl.scan_parquet(path).select(list(FIGURES)).cast(FIGURES)
               .filter(pl.col("channel") == "all", pl.col("service_id").is_in(new["service_id"].unique().implode()))
               .join(new.lazy(), on=["service_id", "month"], how="anti").collect())
    with duckdb.connect() as con:
        con.register("kpi_cost_per_transaction", pl.concat([earlier, new]))
        ratios = con.sql(sql("check_month_on_month")).pl()
    rows = new.join(ratios.drop("channel"), on=["service_id", "month"], how="left").sort("service_id", "month")
    return [Comparison(**{key: value for key, value in row.items() if key != "channel"})
            for row in rows.iter_rows(named=True)]
