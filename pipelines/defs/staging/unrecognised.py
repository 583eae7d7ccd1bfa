"""Files that no mapping reads: a name no return of the agency's mapping matches, a folder that is not a month, a
subfolder of a month folder, a file beside the catalogue or the benefits register under another name, or a folder
that is no agency's. Each is one row of `submission_accounting` (file_status not_recognised) and one of `quarantine`
saying what to rename or move, so that no landed file is ignored in silence. Earlier versions of a file sent again
are rows of `submission_accounting` too (file_status superseded, naming the version in force): not errors, so no
quarantine."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pipelines.lib import quarantine
from pipelines.lib.config import Config
from pipelines.lib.files import CENTRAL_FILES, LandingProblem, inside, landed_files
from pipelines.lib.resources import DataStore
from pipelines.lib.warehouse import RUN_SLICE
from transforms.domain import RETURN_TYPES

MONTH_FOLDER = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
RETURN_TYPE = "not_recognised"
SUPERSEDED = "superseded"
SUPERSEDED_SQL = (Path(__file__).parent / "superseded_files.sql").read_text(encoding="utf-8")


def not_recognised(source_path: str, sha: str, agency_id: str, month: dt.date | None, mapping) -> dict:
    returns = mapping.returns
    names = [n for n in [*(getattr(returns, t).file for t in RETURN_TYPES), returns.transactions.extract,
                         returns.catalogue.file if returns.catalogue else None] if n]
    name = source_path.rsplit("/", 1)[-1]
    return {"agency_id": agency_id, "month": month, "source_file": source_path, "sha256": sha,
            "rule": "file_not_recognised", "offending_value": name,
            "message": f"no return of agency {agency_id}'s mapping reads a file named '{name}' (it reads "
                       f"{', '.join(names)}): rename the file, or add its name or a pattern to the mapping"}


def outside_month_folders(store: DataStore, config: Config, agencies: list[str] | None) -> list[dict]:
    """Files of file-drop agencies in a folder that is not a month (`latest`, `2025-13`): never archived."""
    found = []
    for agency in config.agencies:
        folder = store.landing / agency.folder
        if agency.connector == "performance_platform" or not folder.is_dir() or (
                agencies is not None and agency.id not in agencies):
            continue
        for path in landed_files(store.landing, folder):
            parts = path.relative_to(folder).parts
            first = config.registry.first_month  # the first partition: an earlier folder is never archived
            if len(parts) > 1 and MONTH_FOLDER.fullmatch(parts[0]) and parts[0] < first:
                found.append({"agency_id": agency.id, "month": None,
                              "source_file": path.relative_to(store.landing).as_posix(), "sha256": "",
                              "rule": "folder_before_first_month", "offending_value": parts[0],
                              "message": f"the folder {parts[0]} is before {first}, the first month configured "
                                         "(first_month in sources.yaml): set an earlier first_month to load it"})
                continue
            if len(parts) > 2 and MONTH_FOLDER.fullmatch(parts[0]):
                found.append({"agency_id": agency.id, "month": None,
                              "source_file": path.relative_to(store.landing).as_posix(), "sha256": "",
                              "rule": "file_in_a_subfolder", "offending_value": "/".join(parts[1:-1]),
                              "message": f"subfolders of a month folder are not read: move the file to "
                                         f"data/landing/{agency.folder}/{parts[0]}/ if it is a return, or out of "
                                         "data/landing/ if it is not (a draft, an old copy)"})
                continue
            if len(parts) > 1 and MONTH_FOLDER.fullmatch(parts[0]):
                continue
            where = parts[0] if len(parts) > 1 else "(none)"
            found.append({"agency_id": agency.id, "month": None,
                          "source_file": path.relative_to(store.landing).as_posix(), "sha256": "",
                          "rule": "folder_not_a_month", "offending_value": where,
                          "message": f"the folder '{where}' is not a month (YYYY-MM, 2000-01 or later): move the file "
                                     f"to data/landing/{agency.folder}/<YYYY-MM>/, the month its period ends in"})
    return found


def outside_agency_folders(store: DataStore, config: Config) -> list[dict]:
    """Files under data/landing/ that are in no agency's folder and are not a central file: beside the catalogue or
    the benefits register under another name (an empty file, a copy, random bytes), in data/landing/ itself, or in
    a folder no agency of sources.yaml has. Never archived. Links are left to the landing walk (return_type
    landing), which reports them."""
    if not store.landing.is_dir():
        return []
    agencies, root, found = {agency.folder for agency in config.agencies}, store.landing.resolve(), []
    for entry in sorted(store.landing.iterdir()):
        if entry.name.startswith(".") or entry.name in agencies:
            continue
        paths = landed_files(store.landing, entry) if entry.is_dir() and not entry.is_symlink() else [entry]
        for path in paths:
            source = path.relative_to(store.landing).as_posix()
            if source in CENTRAL_FILES.values() or isinstance(inside(root, path), LandingProblem):
                continue
            name, folder = path.name, (entry.name if entry != path else "(none)")
            central = [f.split("/", 1)[1] for f in CENTRAL_FILES.values() if f.startswith(f"{folder}/")]
            if central:
                rule, message = "file_not_recognised", (
                    f"no central file is named '{name}' (data/landing/{folder}/ holds {', '.join(central)} only): "
                    f"rename the file if it is that one, or move it out of data/landing/")
            else:
                where = ("data/landing/ itself" if entry == path
                         else f"the folder '{folder}', which is no agency's in sources.yaml")
                rule, message = "folder_not_an_agency", (
                    f"the file is in {where}: move it to data/landing/<agency>/<YYYY-MM>/, or add the agency to "
                    "sources.yaml")
            found.append({"agency_id": None, "month": None, "source_file": source, "sha256": "", "rule": rule,
                          "offending_value": name if central else folder, "message": message})
    return found


def write_not_recognised(con, rows: list[dict], start: dt.date, end: dt.date, agencies: list[str] | None) -> None:
    """Replace this run's not-recognised rows (its months, and every row of a folder that is not a month)."""
    agencies = list(agencies) if agencies is not None else None
    con.execute("BEGIN")
    for table in ("quarantine", "submission_accounting"):
        con.execute(f"DELETE FROM {table} WHERE return_type = ? AND (({RUN_SLICE}) OR (month IS NULL AND "
                    "(?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], agency_id))))",
                    [RETURN_TYPE, start, end, agencies, agencies, agencies, agencies])
    file = {"return_type": RETURN_TYPE, "row_number": None, "column_name": "file"}
    quarantine.write(con, [{**row, **file} for row in rows], [
        {"return_type": RETURN_TYPE, "agency_id": row["agency_id"], "month": row["month"],
         "source_file": row["source_file"], "sha256": row["sha256"], "file_status": "not_recognised",
         "rows_read": 0, "rows_accepted": 0, "rows_quarantined": 0, "rows_markers_only": 0} for row in rows])
    write_superseded(con, start, end, agencies)
    con.execute("COMMIT")


def write_superseded(con, start: dt.date, end: dt.date, agencies: list[str] | None) -> None:
    """Replace this run's superseded rows (its months and agencies; files with no month, all of them), inside the
    caller's transaction."""
    con.execute(f"DELETE FROM submission_accounting WHERE return_type = ? AND (({RUN_SLICE}) OR month IS NULL)",
                [SUPERSEDED, start, end, agencies, agencies])
    quarantine.write(con, accounting=con.sql(SUPERSEDED_SQL, params={"start": start, "end": end, "agencies": agencies}))
