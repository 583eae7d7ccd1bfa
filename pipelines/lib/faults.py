"""Named points inside steps where tests stop a run, so that what they look for happens there for sure.

With PIPELINE_PAUSE_AT=<point>:<file>, the step reaching <point> writes its process id to <file> and sleeps
(at most ten minutes); the test then kills the process. With PIPELINE_HOLD_AT=<point>:<file>, the step reaching
<point> writes <file>.reached and waits until <file> exists (at most ten minutes), so a test can do something while
the step is surely in progress. Unset, as always outside those tests, a point costs nothing.
"""

import os
import time
from pathlib import Path

PAUSE_ENV = "PIPELINE_PAUSE_AT"
HOLD_ENV = "PIPELINE_HOLD_AT"


def pause_point(name: str) -> None:
    point, _, ready_file = os.environ.get(PAUSE_ENV, "").partition(":")
    if point == name and ready_file:
        Path(ready_file).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(600)


def hold_point(name: str) -> None:
    point, _, release_file = os.environ.get(HOLD_ENV, "").partition(":")
    if point == name and release_file:
        Path(f"{release_file}.reached").write_text(str(os.getpid()), encoding="utf-8")
        deadline = time.monotonic() + 600
        while not Path(release_file).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
