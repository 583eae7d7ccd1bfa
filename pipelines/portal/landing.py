"""Where an upload is kept and where a submitted one lands. Every path is made here from the registry and the
mapping, never from anything the client sent: uploads are kept by their sha256 under the portal's folder, and a
submission is copied atomically to data/landing/<agency folder>/<YYYY-MM>/<the mapping's file name>, where the
pipeline's sensor finds it. A resubmission replaces the file in the landing folder; the pipeline has archived the
earlier version by its checksum (raw_submissions), and the portal keeps every version it was sent."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from pipelines.lib.config import Agency, Config
from pipelines.lib.files import write_atomically
from transforms.domain import RETURN_TYPES
from transforms.layouts import matches_file

# A pattern's wildcard parts (`*`, `?`, `[...]`, `{fiscal_year}`) in a mapping's `file`
WILDCARD = re.compile(r"\*|\?|\[[^\]]*\]|\{[^}]*\}")
CHUNK = 1 << 20


def file_names(config: Config, agency: Agency) -> dict[str, list[str]]:
    """The files an agency sends, as the portal names them when they land, with the returns each holds (one workbook
    may hold all three). A pattern's wildcard parts become the agency's id, so the name matches its pattern."""
    returns = config.mapping(agency).returns
    names: dict[str, list[str]] = {}
    for return_type in (*RETURN_TYPES, "catalogue") if returns else ():
        layout = getattr(returns, return_type)
        if layout is not None and layout.file:
            name = WILDCARD.sub(agency.id, layout.file)
            if matches_file(layout.file, name):
                names.setdefault(name, []).append(return_type)
    return names


def keep_upload(uploads: Path, source: BinaryIO) -> tuple[Path, str, int]:
    """Copy an upload (a readable binary file) to the portal's folder in chunks, named by its sha256:
    (path, sha256, size)."""
    uploads.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    temporary = uploads / f".incoming-{secrets.token_hex(8)}"
    with temporary.open("wb") as handle:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    sha = digest.hexdigest()
    kept = uploads / sha
    os.replace(temporary, kept)
    return kept, sha, size


def land(landing: Path, agency: Agency, month: str, file_name: str, kept: Path) -> str:
    """Copy a kept upload to the agency's landing folder atomically; returns its path relative to `landing`."""
    folder = (landing / agency.folder / month).resolve()
    target = folder / file_name
    if target.parent != folder or not folder.is_relative_to((landing / agency.folder).resolve()):
        raise ValueError(f"{file_name!r} would land outside the agency's folder")
    write_atomically(target, lambda temporary: shutil.copyfile(kept, temporary))
    return target.relative_to(landing.resolve()).as_posix()
