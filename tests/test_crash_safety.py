"""A run killed with SIGKILL in ingestion, in the KPI marts or in publishing, then re-run, leaves the warehouse and
the published files exactly as a run that was never interrupted, and readers never see half a file."""

import hashlib
import os
import shutil
import signal
import time

import pytest

from pipelines.lib.resources import DataStore
from tests.conftest import published_checksums
from tests.operations import PROCESS_SECONDS, new_instance_home, pipeline_process, warehouse_digest

pytestmark = pytest.mark.crash

# Where the kill lands (pipelines/lib/faults.py): inside the archive transaction, inside the first KPI mart's
# transaction, and in publishing right after the first file was replaced.
POINTS = ["archive", "kpi", "publish"]


@pytest.fixture(scope="module")
def uninterrupted(built):
    """Published checksums and warehouse digest of the run that was never interrupted (the shared `built` run)."""
    store, _, result = built
    assert result.success
    return published_checksums(store), warehouse_digest(store.warehouse)


def published_or_nothing(store: DataStore) -> dict[str, str]:
    return published_checksums(store) if store.published.exists() else {}


@pytest.mark.parametrize("point", POINTS)
def test_killed_run_rerun_equals_uninterrupted_run(point, built, uninterrupted, tmp_path):
    landing = built[0].landing
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(landing, store.landing)  # file times kept: received_at is when a file landed
    home = new_instance_home(tmp_path / "home")
    ready = tmp_path / "ready"
    run = pipeline_process(store.root, home, PIPELINE_PAUSE_AT=f"{point}:{ready}")
    deadline = time.monotonic() + PROCESS_SECONDS
    while not ready.exists():
        assert run.poll() is None, f"ended before {point}:\n{(tmp_path / 'run.log').read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"never reached {point} in {PROCESS_SECONDS} s"
        time.sleep(0.1)
    assert int(ready.read_text()) == run.pid  # paused inside the run's own process (in-process executor)
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait(30) == -signal.SIGKILL
    assert published_or_nothing(store) != uninterrupted[0]  # killed inside a transaction: the re-run recovers

    rerun = pipeline_process(store.root, home)
    assert rerun.wait(PROCESS_SECONDS) == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert published_checksums(store) == uninterrupted[0]
    assert warehouse_digest(store.warehouse) == uninterrupted[1]


def test_readers_never_see_half_a_file_while_a_run_publishes(built, uninterrupted, tmp_path):
    """Read every published file in a loop while a run re-publishes all of them: each read is a whole file."""
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(built[0].root, store.root)
    expected = uninterrupted[0]
    files = {p.relative_to(store.published).as_posix(): p for p in sorted(store.published.rglob("*")) if p.is_file()}
    first_inode = {name: path.stat().st_ino for name, path in files.items()}
    replaced, reads, bad = set(), 0, []
    run = pipeline_process(store.root, new_instance_home(tmp_path / "home"))
    while run.poll() is None:
        for name, path in files.items():
            with path.open("rb") as handle:  # opens whichever file the name points at now, old or new
                inode, content = os.fstat(handle.fileno()).st_ino, handle.read()
            reads += 1
            if hashlib.sha256(content).hexdigest() != expected[name]:
                bad.append((name, len(content)))
            if inode != first_inode[name]:
                replaced.add(name)
    assert run.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert bad == []
    # every file was replaced while the loop was reading it, but the summaries: their figures did not change, so
    # they were not rendered again (reports/manifest.json, rewritten, is among the replaced)
    summaries = {name for name in expected if name.startswith("reports/benefits-summary-")}
    assert summaries and replaced == set(expected) - summaries
    assert {name: files[name].stat().st_ino for name in summaries} == {name: first_inode[name] for name in summaries}
    assert reads > 10 * len(files)
    assert published_checksums(store) == expected
