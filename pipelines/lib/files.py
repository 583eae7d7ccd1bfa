"""Files on disk: atomic writes, checksums read in chunks, and the files of a landing folder, walked without ever
following a link out of it, with what could not be taken (links out or in loops, a folder named like a file, a
device or pipe, a name that is not UTF-8) reported instead of raised."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# The central files, where they land under data/landing/ (the same for every agency and month).
CENTRAL_FILES = {"service_catalogue": "catalogue/services.csv", "benefits_register": "benefits/benefits_register.csv"}


def sha256_file(path: Path) -> str:
    """The file's sha256, read in chunks: a transaction-level extract can be many GB."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    """Write through `write(temporary_path)` beside the target, then rename: a reader never sees half a file.
    A leftover of a write killed half-way (possibly read-only) is replaced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.unlink(missing_ok=True)
    write(temporary)
    os.replace(temporary, target)
    return target


# A folder with one of these suffixes is a return someone unpacked or misnamed, not a folder of returns.
FILE_SUFFIXES = (".csv", ".xlsx", ".json", ".parquet", ".gz", ".zip", ".txt")


@dataclass(frozen=True)
class LandingProblem:
    """Something under data/landing/ that is not taken: `path` relative to the landing folder, `rule` its name."""

    path: str
    rule: str  # link_outside_landing | link_unresolvable | link_to_folder | not_a_regular_file |
    #            folder_named_like_a_file | not_a_folder | name_not_utf8
    message: str


def landed_files(landing: Path, folder: Path) -> list[Path]:
    """Files under a landing folder (recursively, hidden files aside), never following a link out of `landing`."""
    return scan_landing(landing, folder)[0]


def scan_landing(landing: Path, folder: Path) -> tuple[list[Path], list[LandingProblem]]:
    """(regular files under `folder`, what was not taken and why). Links to folders are never followed (no loop
    can be walked); a link to a file is taken only when it resolves inside `landing`."""
    root = landing.resolve()
    files, problems, pending = [], [], [folder]
    while pending:
        directory = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            problems.append(_problem(landing, Path(directory), "not_a_folder", f"cannot be listed: {error.strerror}"))
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            if printable(entry.name) != entry.name:
                what = "folder (nothing in it is read)" if entry.is_dir(follow_symlinks=False) else "file (not read)"
                problems.append(_problem(landing, path, "name_not_utf8",
                                         f"a {what} whose name is not UTF-8 text, shown here with its bytes "
                                         "escaped (\\xNN): rename it in UTF-8"))
                continue
            if entry.is_dir(follow_symlinks=False):
                if path.suffix.lower() in FILE_SUFFIXES:
                    problems.append(_problem(landing, path, "folder_named_like_a_file",
                                             "a folder named like a file; send the file itself"))
                else:
                    pending.append(path)
                continue
            taken = inside(root, path)
            if isinstance(taken, LandingProblem):
                problems.append(_problem(landing, path, taken.rule, taken.message))
            else:
                files.append(path)
    return sorted(files), sorted(problems, key=lambda p: p.path)


def inside(root: Path, path: Path) -> Path | LandingProblem:
    """`path` when it is a regular file that resolves inside `root` (the resolved landing folder), else why not."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as error:  # RuntimeError: a link loop, on Python before 3.13
        return LandingProblem("", "link_unresolvable", f"a link that leads nowhere or in a loop ({error})")
    if not target.is_relative_to(root):
        return LandingProblem("", "link_outside_landing", "a link out of the landing folder; it is never read")
    mode = target.stat().st_mode
    if stat.S_ISDIR(mode):
        return LandingProblem("", "link_to_folder", "a link to a folder, never followed; put the files themselves here")
    if not stat.S_ISREG(mode):
        return LandingProblem("", "not_a_regular_file", "not a regular file (a pipe, socket or device)")
    return path


def printable(name: str) -> str:
    """A name as the file system gave it, as text any writer accepts: bytes that are not UTF-8 as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _problem(landing: Path, path: Path, rule: str, message: str) -> LandingProblem:
    return LandingProblem(printable(os.path.relpath(path, landing)), rule, message)
