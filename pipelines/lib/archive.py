"""Where archived submissions are kept, each read-only under <sha[:2]>/<sha><suffix> (ingestion names them by their
bytes, so a name never changes its contents): data/archive/ on the run worker's disk, or <spark.storage>/archive/
when the registry sets the storage root (README, "Beyond one machine"), beside the Spark inputs and outputs, where
every executor reads archived extracts without a copy per run. The root is a folder path (one every machine mounts
at the same path) or a URI of any file system pyarrow or fsspec reaches (file://, s3://, gs://, abfss://, memory://).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.lib.files import write_atomically


class Archive:
    """The archive at `location` (a path or a URI). Steps on the run worker read a file through `local`: the
    archived file itself, or (at a URI) a copy in `cache`, which its checksum name keeps valid for ever."""

    def __init__(self, location: str | Path, cache: Path):
        self.location, self.cache = str(location), cache

    @classmethod
    def of(cls, store, storage: str | None) -> Archive:
        """The archive of `store` (a DataStore) with the registry's spark.storage (None: data/archive/)."""
        location = store.archive if storage is None else f"{storage.rstrip('/')}/archive"
        return cls(location, store.root / "archive-cache")

    @property
    def is_uri(self) -> bool:
        return "://" in self.location

    def _fs(self, archive_path: str):
        from pipelines.lib.spark_job import filesystem

        fs, root = filesystem(self.location)
        return fs, f"{root.rstrip('/')}/{archive_path}"

    def put(self, source: Path, archive_path: str) -> None:
        """Archive `source`'s bytes as `archive_path`, read-only, unless already there; never half a file."""
        if not self.is_uri:
            target = Path(self.location) / archive_path
            if not target.exists():
                write_atomically(target, lambda temporary: (shutil.copyfile(source, temporary),
                                                            os.chmod(temporary, 0o444)))
            return
        import pyarrow.fs as pafs

        fs, target = self._fs(archive_path)
        if fs.get_file_info(target).type != pafs.FileType.NotFound:
            return
        fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        temporary = f"{target.rsplit('/', 1)[0]}/.{target.rsplit('/', 1)[1]}.tmp"
        pafs.copy_files(str(source), temporary, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
        fs.move(temporary, target)

    def local(self, archive_path: str) -> Path:
        """A file on this machine holding the archived bytes."""
        if not self.is_uri:
            return Path(self.location) / archive_path
        import pyarrow.fs as pafs

        cached = self.cache / archive_path
        if not cached.exists():
            fs, source = self._fs(archive_path)
            write_atomically(cached, lambda temporary: pafs.copy_files(
                source, str(temporary), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem()))
        return cached

    def uri(self, archive_path: str) -> str:
        """The URI an executor reads the archived file from."""
        if not self.is_uri:
            return (Path(self.location).resolve() / archive_path).as_uri()
        return f"{self.location.rstrip('/')}/{archive_path}"

    def remove(self, archive_path: str) -> None:
        """Delete one archived file (retention); nothing if it is gone already."""
        (self.cache / archive_path).unlink(missing_ok=True)
        if not self.is_uri:
            (Path(self.location) / archive_path).unlink(missing_ok=True)
            return
        import pyarrow.fs as pafs

        fs, target = self._fs(archive_path)
        if fs.get_file_info(target).type != pafs.FileType.NotFound:
            fs.delete_file(target)
