"""Files on disk: atomic writes, checksums read in chunks, and the files of a landing folder."""

from __future__ import annotations

import hashlib
import os
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


def landed_files(landing: Path, folder: Path) -> list[Path]:
    """Files under a landing folder (recursively, hidden files aside), never following a link out of `landing`."""
    root = landing.resolve()
    return [p for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.resolve().is_relative_to(root)]
