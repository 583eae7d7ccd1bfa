"""Named points inside writing steps where the crash-safety tests stop a run, so a SIGKILL lands there for sure.

With PIPELINE_PAUSE_AT=<point>:<file>, the step reaching <point> writes its process id to <file> and sleeps
(at most ten minutes); the test then kills the process. Unset, as always outside those tests, a point costs nothing.
"""

import os
import time
from pathlib import Path

PAUSE_ENV = "PIPELINE_PAUSE_AT"


def pause_point(name: str) -> None:
    point, _, ready_file = os.environ.get(PAUSE_ENV, "").partition(":")
    if point == name and ready_file:
        Path(ready_file).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(600)
