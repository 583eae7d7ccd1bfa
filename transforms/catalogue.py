"""The table catalogue: every warehouse table once, with what everything else needs to know about it.

One entry per table gives its stage, how it is built, its key (one row per key; also the published row order, the
data package's primary key and the key expectations of its suite), the columns its suite requires, its
description, whether a blocking Great Expectations suite guards it, by when each monthly cycle must have rebuilt it
(its freshness policy), and under what name it is published. The asset factory, the checks and their suites, the
publishing order, the data package and the definition tests all read this list. A table's upstream tables are not
written here: they are read from its SQL (`tables_read`), so they cannot drift from what the query does; and no
table reads a table of a later stage (`STAGES`, `reads_from_later_stages`). What each column means is written once
for every table it appears in (`COLUMNS`, from columns.yaml beside this file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from transforms import sql

# How a table is built (Table.build):
#   sql      rebuilt whole by transforms/sql/<name>.sql in one transaction
#   months   the run's months replaced by transforms/sql/<name>.sql (bound $start, $end)
#   code     written by its stage's Python (staging, ingestion); `reads` lists what that code reads
#   side     a side table that several assets write (raw_submissions, quarantine, ...), shown in the lineage


@dataclass(frozen=True)
class Satisfaction:
    """What a table publishes of user satisfaction, under the disclosure rule of transforms/sql/formulas.sql: a
    figure from fewer than satisfaction_min_responses() responses is published empty, with suppression_note saying
    why; the number of responses is published."""

    figures: tuple[str, ...]  # the satisfaction figures: scores, shares, their numerators, intervals, rating counts
    # The column counting the responses behind a row's figures: publication applies the rule from it. None: the
    # table's SQL applies it (the roll-up's: a change needs the counts of the periods compared, not published).
    responses: str | None = None
    rows: str | None = None  # in a long table, the SQL condition of the rows that carry satisfaction


@dataclass(frozen=True)
class Freshness:
    """By when a table must have been rebuilt: `hour` o'clock (Europe/London) on the monthly cycle's day, by a run
    that ended at most `within_hours` before then (the cycle's morning run or a later one). Dagster's daemon
    evaluates it from its own records (pipelines/lib/partitions.py turns it into a FreshnessPolicy)."""

    hour: int
    within_hours: int


CYCLE_DAY_NOON = Freshness(hour=12, within_hours=12)  # the KPI marts: rebuilt on cycle day by noon

RATINGS = ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5")


@dataclass(frozen=True)
class Table:
    name: str
    stage: str
    description: str
    build: str = "sql"
    key: tuple[str, ...] = ()
    title: str | None = None
    publish_as: str | None = None  # the name under data/published/ (CSV and Parquet); None: not published
    order: str | None = None       # the published row order, when it is not the key's
    suite: bool = False            # a blocking suite guards it: the key's and columns' expectations, and the domain
                                   # rules in expectations/suites.py
    columns: tuple[str, ...] = ()  # with the key, the columns its suite requires (downstream SQL reads them)
    revisions: bool = False        # a rebuild records every changed figure in `revisions`
    reads: tuple[str, ...] = ()    # build "code" and "side": the tables the asset reads or is written after
    writes_to: tuple[str, ...] = ()  # side tables the asset also writes (quarantine, accounting, ...)
    satisfaction: Satisfaction | None = None  # it carries user-satisfaction figures (disclosure control)
    freshness: Freshness | None = None        # by when each monthly cycle must have rebuilt it

    @property
    def published_order(self) -> str:
        return self.order or ", ".join(self.key)


TABLES = (
    # raw
    Table("raw_submissions", "raw", "Every submission received: where it arrived, its sha256, size, received and "
          "archived times, and its unchanged copy in the archive.", build="side",
          reads=("raw_agency_returns", "raw_api_returns", "raw_reference_files", "raw_performance_records")),
    Table("portal_submissions", "raw", "Every return submitted through the submission portal: where it landed, "
          "its sha256 and size, the kind of account that submitted it and when, and the feedback they were shown "
          "(rows read, accepted and quarantined, and the whole feedback as JSON). Joins submission_accounting on "
          "source_file and sha256.",
          build="code", key=("source_file", "submitted_at"), title="Portal submissions",
          publish_as="portal_submissions"),
    # staging
    Table("stg_agencies", "staging", "The source registry (config/sources.yaml) as a table: names, departments, "
          "connectors, due days.", build="code", key=("agency_id",)),
    Table("stg_service_catalogue", "staging", "The services measured, with their agency, department and the "
          "channels they offer.", build="code", key=("service_id",), title="Service catalogue",
          publish_as="service_catalogue", suite=True,
          columns=("service_name", "agency_id", "department", "channels_offered", "high_volume"),
          reads=("raw_reference_files", "raw_agency_returns"),
          writes_to=("quarantine", "submission_accounting", "stg_service_facts")),
    Table("stg_service_facts", "staging", "Each description of a service in an agency's own files, one row per "
          "service and file: its name, department and agency for the periods that file's returns cover.",
          build="side"),
    Table("stg_benefits_register", "staging", "The benefits register (HM Treasury Green Book fields): baseline, "
          "target, owner per benefit.", build="code", key=("benefit_id",),
          reads=("raw_reference_files", "stg_service_catalogue"), writes_to=("quarantine", "submission_accounting")),
    *(Table(f"stg_{kind}", "staging", description, build="code", key=key, columns=columns, suite=True,
            reads=("raw_agency_returns", "raw_api_returns", "stg_service_catalogue"),
            writes_to=("quarantine", "submission_accounting"))
      for kind, key, columns, description in (
          # a return may hold several periods (a quarter and its months, or a publisher's whole history)
          ("transactions", ("service_id", "month", "grain", "period_start", "channel"),
           ("transactions_started", "transactions_completed"),
           "Transactions started and completed per service x period x channel (NULL: not provided), and figures "
           "reported for the whole service (channel 'all': a reported total, cost per transaction, rates)."),
          ("costs", ("service_id", "month", "cost_category", "channel"), ("cost_gbp",),
           "Costs in GBP per service x month x cost category x channel, or 'shared' when no channel carries it."),
          ("satisfaction", ("service_id", "month", "channel"), ("rating_1", "rating_5"),
           "User satisfaction survey responses per rating (1-5) per service x month x channel."))),
    Table("stg_reported_figures", "staging", "Figures from Performance-Platform records, one row per service x "
          "month x channel x measure.", build="code", key=("service_id", "month", "channel", "measure"),
          reads=("raw_performance_records", "stg_service_catalogue"),
          writes_to=("quarantine", "submission_accounting")),
    Table("stg_extract_transactions", "staging", "Transaction-level extracts aggregated per service x month x "
          "channel (and 'all'): transactions started and completed, median and 90th-percentile time to complete. "
          "Rows that break a rule are quarantined.", build="code", key=("service_id", "month", "channel"),
          columns=("agency_id", "transactions_started", "transactions_completed", "time_to_complete_median_seconds",
                   "time_to_complete_p90_seconds"), suite=True,
          reads=("raw_agency_returns", "stg_service_catalogue"),
          writes_to=("quarantine", "submission_accounting", "extract_manifest")),
    Table("extract_manifest", "staging", "Extract files read where they live (engine spark with an "
          "extract_location), not copied into the archive: each file's URI, size and sha256, and the run whose "
          "stage outputs hold its figures.", build="side"),
    Table("quarantine", "staging", "Every row (or whole file) of the agencies' returns that was rejected, with the "
          "rule it broke.", build="side", title="Quarantine",
          order="return_type, source_file, row_number NULLS FIRST, period_start NULLS FIRST, rule, column_name",
          publish_as="quarantine"),
    Table("submission_accounting", "staging", "For every file received - rows read = rows accepted + rows "
          "quarantined - and for every file not read, why: not recognised, or superseded by a later version.",
          build="side", title="Submission accounting", order="return_type, source_file, file_status, sha256",
          publish_as="submission_accounting"),
    # quality
    Table("submission_status", "quality", "Per agency and month - whether the monthly return was received by its "
          "due date.", key=("agency_id", "month"), title="Submission status", publish_as="submission_status"),
    Table("satisfaction_method_drift", "quality", "Which method (GOV.UK score or top-2-box) each reported "
          "satisfaction percentage follows, month by month.", key=("service_id", "channel", "month"),
          publish_as="satisfaction_method_drift", title="Satisfaction method, month by month",
          satisfaction=Satisfaction(("reported_percent", "gov_uk_score_percent", "top_2_box_percent"), "responses")),
    # facts
    Table("fct_service_month_channel", "facts", "One row per service x month x offered channel: volumes, costs "
          "(direct + apportioned shared), rating counts.", build="months", key=("service_id", "month", "channel"),
          columns=("agency_id", "channel_type", "transactions_completed", "cost_gbp"), suite=True),
    Table("fct_service_month", "facts", "One row per service x month: whole-service volumes and costs, and which "
          "channels were not provided.", build="months", key=("service_id", "month")),
    # kpis
    Table("kpi_cost_per_transaction", "kpis", "Cost per transaction (GBP) per service, month and channel, monthly "
          "and rolling 12 months.", key=("service_id", "month", "channel"), title="Cost per transaction",
          publish_as="kpi_cost_per_transaction", suite=True, revisions=True, freshness=CYCLE_DAY_NOON,
          columns=("cost_gbp", "transactions_completed", "cost_per_transaction_gbp")),
    Table("kpi_digital_take_up", "kpis", "Digital take-up (0..1) and channel shift against the baseline month, per "
          "service and month.", key=("service_id", "month"), title="Digital take-up and channel shift",
          publish_as="kpi_digital_take_up", suite=True, revisions=True, freshness=CYCLE_DAY_NOON,
          columns=("transactions_completed", "digital_transactions_completed",
                   "assisted_digital_transactions_completed", "digital_take_up_rate", "baseline_month",
                   "take_up_change_pp")),
    Table("kpi_completion_rate", "kpis", "Completion rate (completed / started, 0..1) per service, month and "
          "channel.", key=("service_id", "month", "channel"), title="Completion rate",
          publish_as="kpi_completion_rate", suite=True, revisions=True, freshness=CYCLE_DAY_NOON,
          columns=("transactions_started", "transactions_completed", "completion_rate")),
    Table("kpi_user_satisfaction", "kpis", "User satisfaction: GOV.UK score and top-2-box share with 95% "
          "intervals.", key=("service_id", "month", "channel"), title="User satisfaction",
          publish_as="kpi_user_satisfaction", suite=True, revisions=True, freshness=CYCLE_DAY_NOON,
          columns=("responses", "satisfaction_score", "satisfied_share"),
          satisfaction=Satisfaction((*RATINGS, "satisfaction_score", "satisfaction_score_ci_low",
                                     "satisfaction_score_ci_high", "satisfied_share", "satisfied_share_ci_low",
                                     "satisfied_share_ci_high"), "responses")),
    Table("kpi_by_period", "kpis", "The KPIs at the grain agencies sent (quarter, financial year, 12 months) and "
          "monthly figures rolled up to quarters and financial years; a return due by the agency's cadence that did "
          "not come is a row with every figure empty.",
          key=("service_id", "grain", "period_start", "source", "channel"), publish_as="kpi_by_period", suite=True,
          title="KPIs by quarter and year", revisions=True, freshness=CYCLE_DAY_NOON,
          columns=("period_end", "months_covered", "transactions_completed", "cost_per_transaction_gbp",
                   "digital_take_up_rate"),
          satisfaction=Satisfaction(("satisfaction_score", "satisfied_share", "reported_satisfaction_rate"),
                                    "responses")),
    Table("kpi_processing_time", "kpis", "Time to complete (median and 90th percentile, seconds) per service, "
          "month and channel, from transaction-level extracts.", key=("service_id", "month", "channel"),
          publish_as="kpi_processing_time", suite=True, revisions=True, freshness=CYCLE_DAY_NOON,
          title="Processing time",
          columns=("transactions_completed", "time_to_complete_median_seconds", "time_to_complete_p90_seconds")),
    Table("kpi_rollups_all_grains", "kpis", "The one roll-up: each KPI per grain (month, quarter, financial year, "
          "12-month span) and period for the whole government, each department and each agency; kpi_rollups "
          "publishes its months, kpi_rollups_by_period its other grains.",
          key=("level", "group_id", "grain", "period_start", "kpi"),
          satisfaction=Satisfaction(("value", "numerator", "denominator", "change_vs_previous"),
                                    rows="kpi = 'user_satisfaction'")),
    Table("kpi_rollups", "kpis", "Each KPI per month for the whole government, each department and each agency, "
          "volume-weighted over the services with a figure, with coverage and the like-for-like change against the "
          "previous month.", key=("level", "group_id", "month", "kpi"), order="level, group_id, month, kpi_order",
          title="KPIs for government, departments and agencies", publish_as="kpi_rollups",
          satisfaction=Satisfaction(("value", "change_vs_previous_month"), rows="kpi = 'user_satisfaction'")),
    Table("kpi_rollups_by_period", "kpis", "Each KPI per quarter, financial year and 12-month span for the whole "
          "government, each department and each agency, volume-weighted over the services with a figure, with "
          "coverage and the like-for-like change against the previous period of the same grain.",
          key=("level", "group_id", "grain", "period_start", "kpi"),
          order="level, group_id, grain, period_start, kpi_order",
          title="KPIs by period for government, departments and agencies", publish_as="kpi_rollups_by_period",
          satisfaction=Satisfaction(("value", "numerator", "denominator", "change_vs_previous_period"),
                                    rows="kpi = 'user_satisfaction'")),
    Table("kpi_service_summary", "kpis", "One row per service - its KPIs in its latest period (a month, or the "
          "quarter or year it reports by) and how they changed over 12 months.", key=("service_id",),
          title="Services in their latest period",
          publish_as="kpi_service_summary",
          satisfaction=Satisfaction(("satisfaction_score",), "satisfaction_responses")),
    Table("kpi_formation", "kpis", "Per service, period and KPI (digital take-up, cost per transaction, completion "
          "rate) of the transactions staged: whether the KPI was formed, computed or reported, and why not.",
          key=("service_id", "grain", "period_start", "kpi")),
    Table("kpis_not_formed", "kpis", "Per source and KPI, where the source's rows formed the KPI for fewer than half "
          "of its services: how many services lack it, the commonest reason and the fix.", key=("agency_id", "kpi"),
          title="KPIs a source's returns could not form", publish_as="kpis_not_formed"),
    Table("revisions", "kpis", "Published KPI figures that changed when a corrected or late return arrived: from "
          "what to what, and when.", build="side",
          order="revised_at, table_name, service_id, month, channel NULLS FIRST, column_name", publish_as="revisions",
          title="Revisions to published figures"),
    # benefits
    Table("benefits_register", "benefits", "The benefits register as published: baseline, target, trajectory, "
          "owners and full-year value per benefit.", key=("benefit_id",), publish_as="benefits_register",
          title="Benefits register"),
    Table("channel_shift_savings", "benefits", "Channel-shift savings per service and month (GBP): theoretical and "
          "counterfactual, monthly and cumulative.", key=("service_id", "month"), publish_as="channel_shift_savings",
          title="Channel-shift savings by service"),
    Table("channel_shift_savings_rollup", "benefits", "Channel-shift savings by agency, department and government, "
          "with coverage and like-for-like flags.", key=("level", "group_id", "month"),
          publish_as="channel_shift_savings_rollup",
          title="Channel-shift savings for government, departments and agencies"),
    Table("benefits_realisation", "benefits", "Per benefit and month: planned, actual, variance, share of target, "
          "RAG, forecast, money realised to date.", key=("benefit_id", "month"), publish_as="benefits_realisation",
          title="Benefits realised against plan"),
    Table("benefits_summary_figures", "benefits", "The ministers' summary's figures per month and financial "
          "quarter, with the previous period's.", key=("period_type", "period_start", "figure"),
          publish_as="benefits_summary_figures", title="Ministers' summary figures"),
)
CATALOGUE = {table.name: table for table in TABLES}


@dataclass(frozen=True)
class Column:
    """What a column means, in every table that has it (the same name means the same thing)."""

    description: str
    unit: str | None = None  # only where the name does not carry it (UNIT_SUFFIXES)


COLUMNS = {name: Column(**meaning) for name, meaning in
           yaml.safe_load((Path(__file__).parent / "columns.yaml").read_text(encoding="utf-8")).items()}
# The units a column's name carries (STYLE: cost_gbp, digital_take_up_rate); columns.yaml names the others.
UNIT_SUFFIXES = (("_gbp", "GBP"), ("_pp", "percentage points"), ("_pct", "percent"), ("_percent", "percent"),
                 ("_rate", "0..1"), ("_share", "0..1"), ("_seconds", "seconds"))


def unit_in_name(column: str) -> str | None:
    return next((unit for suffix, unit in UNIT_SUFFIXES if column.endswith(suffix)), None)


def unit(column: str) -> str | None:
    """A column's unit: from its name, else from columns.yaml; None for a column without one (a name, a date...)."""
    return unit_in_name(column) or (COLUMNS[column].unit if column in COLUMNS else None)


# Views over catalogue tables, read by SQL as if they were tables.
VIEWS = {"current_submissions": "raw_submissions"}


def published() -> list[Table]:
    """The published tables, in the order they are written."""
    return [table for table in TABLES if table.publish_as]


def by_stage(stage: str, build: str | None = None) -> list[Table]:
    return [t for t in TABLES if t.stage == stage and (build is None or t.build == build)]


@cache
def _parser():
    """One in-memory DuckDB for every parse (opening one costs more than parsing a query)."""
    import duckdb  # the parser only; nothing is read

    return duckdb.connect()


@cache
def tables_read(query_name: str) -> tuple[str, ...]:
    """The catalogue tables that transforms/sql/<query_name>.sql reads, from DuckDB's own parse of the query
    (no table needs to exist): base tables named anywhere in it, less its CTEs, views mapped to their table."""
    tree = json.loads(_parser().execute("SELECT json_serialize_sql(?)", [sql(query_name)]).fetchall()[0][0])
    if tree.get("error"):
        raise ValueError(f"transforms/sql/{query_name}.sql: {tree['error_message']}")
    found, ctes = set(), set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                found.add(node["table_name"])
            ctes.update(entry["key"] for entry in (node.get("cte_map") or {}).get("map", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    names = {VIEWS.get(name, name) for name in found - ctes}
    return tuple(sorted(name for name in names if name in CATALOGUE))


def writers(side: str) -> tuple[str, ...]:
    """The assets that write a side table: those it names, those that say they write it, and (for `revisions`)
    every table whose rebuild records revisions."""
    names = set(CATALOGUE[side].reads) | {t.name for t in TABLES if side in t.writes_to}
    if side == "revisions":
        names |= {t.name for t in TABLES if t.revisions}
    return tuple(sorted(names))


def reads(table: Table) -> tuple[str, ...]:
    """The tables a table is built from: those its SQL reads (for SQL-built tables), or those its code declares."""
    return tables_read(table.name) if table.build in ("sql", "months") else table.reads


def upstream(table: Table) -> tuple[str, ...]:
    """What a table's asset depends on: the tables it reads, and for a side table read, the assets that write it as
    well (so they run first)."""
    if table.build == "side":
        return writers(table.name)
    direct = reads(table)
    sides = [name for name in direct if name in CATALOGUE and CATALOGUE[name].build == "side"]
    return tuple(sorted({*direct, *(w for side in sides for w in writers(side))}))


# The stages in the order data flows through them. Data layers, as import-linter holds the code's: a table reads
# only tables of its own stage or an earlier one (tests/test_catalogue.py holds every entry to it). Quality comes
# before facts: the KPIs by period read submission_status (which returns were due and never came).
STAGES = ("raw", "staging", "quality", "facts", "kpis", "benefits")


def reads_from_later_stages(table: Table) -> list[str]:
    """The catalogue tables `table` reads that belong to a later stage than its own (none, in a sound catalogue)."""
    rank = STAGES.index(table.stage)
    return [name for name in reads(table) if name in CATALOGUE and STAGES.index(CATALOGUE[name].stage) > rank]
