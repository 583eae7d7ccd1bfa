"""Staged central files, each read whole: the service catalogue and the benefits register. The catalogue also
takes the services an agency describes in its own files (a mapping's `catalogue`): the central file's row wins,
then the latest file's; an agency whose mapping says `service_facts: return` has its own files' rows win over the
central file's."""

import dagster as dg
import polars as pl

from pipelines.defs.staging.accounting import stage_whole_files
from pipelines.lib.files import CENTRAL_FILES
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.suites import built_then_checked, table_step
from pipelines.lib.warehouse import submissions_in_force
from transforms.catalogue import CATALOGUE, upstream
from transforms.layouts import OFFERED, matches_file, offered_from_return, with_derived_ids
from transforms.reference import validate_benefits, validate_catalogue


def stage_reference(store: DataStore, settings: Settings, name: str, validator, table: str) -> dict:
    """Stage a central file (catalogue or benefits register) as a whole."""
    with store.connect() as con:
        files = central_file(con, name)
    return stage_whole_files(store, name, files, lambda frame, con, _: validator(frame, con), table,
                             settings.config.limits.files, storage=settings.config.registry.spark.storage)


def central_file(con, name: str) -> list[tuple]:
    """[(source_path, sha256, None, archive_path)] of the central file's version in force; [] if never received."""
    return [(s.source_path, s.sha256, None, s.archive_path)
            for s in submissions_in_force(con, paths=[CENTRAL_FILES[name]])]


def agency_catalogue_files(con, config) -> list[tuple]:
    """(source_path, sha256, agency_id, archive_path) of agencies' files their mapping reads services from,
    latest month first."""
    found = []
    monthly = [s for s in submissions_in_force(con) if s.agency_id is not None and s.month is not None]
    for source_path, sha, agency_id, _, archive_path in sorted(
            monthly, key=lambda s: (-s.month.toordinal(), s.source_path)):
        agency = config.agency(agency_id)
        returns = config.mapping(agency).returns if agency else None
        if returns and returns.catalogue and matches_file(returns.catalogue.file, source_path.rsplit("/", 1)[-1]):
            found.append((source_path, sha, agency_id, archive_path))
    return found


def described(frame: pl.DataFrame, layout, agency_id: str) -> pl.DataFrame:
    """An agency's file as catalogue rows: its columns renamed, its agency, the defaults, markers as empty, the ids
    derived from the names and the channels offered read from their codes where the layout says so."""
    codes = layout.channels_offered
    if codes is not None:
        frame = offered_from_return(frame.with_columns(pl.col(codes.column).str.strip_chars()), codes).with_columns(
            pl.when(pl.col(OFFERED).list.len() > 0).then(pl.col(OFFERED).list.join(";")).alias("channels_offered"))
    frame = frame.select(*(pl.col(k).str.strip_chars().alias(v) for k, v in layout.rename.items()
                           if k in frame.columns), *(["channels_offered"] if codes else []), "_row_number",
                         "_source_file")
    frame = frame.with_columns(pl.when(pl.col(c).is_in(layout.not_provided)).then(None).otherwise(pl.col(c)).alias(c)
                               for c in frame.columns if c not in ("_row_number", "_source_file"))
    if layout.service_id:
        frame = with_derived_ids(frame, layout.service_id)
    return frame.with_columns(pl.lit(agency_id).alias("agency_id"),
                              *(pl.lit(v).alias(k) for k, v in layout.defaults.items() if k not in frame.columns))


# Why a description is not the catalogue's, by whether the file is the central one (True) or an agency's (False).
SUPERSEDED = {
    False: "a later file (or the central catalogue) describes this service now; this file's description stays the "
           "service's facts for the periods of this file's returns (stg_service_facts)",
    True: "the agency's own file describes this service (its mapping says service_facts: return)",
}


def in_catalogue_order(config, central: list, own: list) -> list:
    """The catalogue's files in the order they are taken: agencies' files whose mapping says `service_facts:
    return`, the central file, then the other agencies' files (latest month first)."""
    first = [f for f in own if config.facts_from_return(f[2])]
    return first + central + [f for f in own if f not in first]


def catalogue_validator(config, facts: list[pl.DataFrame] | None = None):
    """The validator of the catalogue's files, taken `in_catalogue_order`: `validator(frame, con, agency_id)` ->
    (accepted services, quarantined rows); a service already described by an earlier file is
    `superseded_by_later_file`. One per staging of the catalogue (it remembers). Every agency file's own
    descriptions are appended to `facts`, for the periods its returns cover."""
    agency_ids = [a.id for a in config.agencies]
    seen: set[str] = set()
    facts = [] if facts is None else facts

    def validator(frame, con, agency_id):
        if agency_id is not None:
            frame = described(frame, config.mapping(config.agency(agency_id)).returns.catalogue, agency_id)
            valid = validate_catalogue(frame, agency_ids)[0].select("service_id", "agency_id", "service_name",
                                                                    "department")
            facts.append(valid.with_columns(pl.lit(frame["_source_file"][0] if frame.height else "")
                                            .alias("source_file")))
        earlier = frame.filter(pl.col("service_id").is_in(list(seen)))
        accepted, failed = validate_catalogue(frame.filter(~pl.col("service_id").is_in(list(seen))), agency_ids)
        superseded = earlier.select(pl.col("_source_file").alias("source_file"),
                                    pl.col("_row_number").cast(pl.Int64).alias("row_number"),
                                    pl.lit("superseded_by_later_file").alias("rule"),
                                    pl.lit("service_id").alias("column_name"), pl.col("service_id").alias(
                                        "offending_value"),
                                    pl.lit(SUPERSEDED[agency_id is None]).alias("message"))
        seen.update(accepted["service_id"].to_list())
        return accepted, pl.concat([failed.with_columns(pl.col("row_number").cast(pl.Int64)), superseded],
                                   how="diagonal_relaxed")
    return validator


def catalogue_layouts(config) -> dict:
    """agency id -> the layout its own catalogue file is read by."""
    return {a.id: config.mapping(a).returns.catalogue for a in config.agencies
            if config.mapping(a).returns and config.mapping(a).returns.catalogue}


def stage_service_catalogue(store: DataStore, config) -> dict:
    """Stage the central and the agencies' catalogue files, and the service facts they carry."""
    with store.connect() as con:
        files = in_catalogue_order(config, central_file(con, "service_catalogue"), agency_catalogue_files(con, config))
    facts: list[pl.DataFrame] = []
    metadata = stage_whole_files(store, "service_catalogue", files, catalogue_validator(config, facts),
                                 "stg_service_catalogue", config.limits.files, catalogue_layouts(config),
                                 storage=config.registry.spark.storage)
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM stg_service_facts")
        if facts:
            con.register("facts_frame", pl.concat(facts, how="diagonal_relaxed"))
            con.execute("INSERT INTO stg_service_facts BY NAME SELECT * FROM facts_frame")
        con.execute("COMMIT")
    return metadata


@dg.multi_asset(**table_step(CATALOGUE["stg_service_catalogue"], deps=upstream(CATALOGUE["stg_service_catalogue"]),
                             kinds={"duckdb", "polars"}))
def stg_service_catalogue(context: dg.AssetExecutionContext, store: DataStore, settings: Settings):
    yield from built_then_checked(context, store, CATALOGUE["stg_service_catalogue"],
                                  lambda: stage_service_catalogue(store, settings.config))


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=upstream(CATALOGUE["stg_benefits_register"]),
          description=CATALOGUE["stg_benefits_register"].description, kinds={"duckdb", "polars"})
def stg_benefits_register(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    def validator(frame, con):
        services = [r[0] for r in con.execute("SELECT service_id FROM stg_service_catalogue").fetchall()]
        return validate_benefits(frame, services)
    return dg.MaterializeResult(metadata=stage_reference(store, settings, "benefits_register", validator,
                                                         "stg_benefits_register"))
