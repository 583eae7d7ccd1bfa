"""The checkout is self-contained (issue 21): no code, test, benchmark, configuration or script names a file outside it,
so the suite and the commands run the same on any machine and fail on none for a folder only one machine has."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The rule: a path outside the checkout is an absolute path (or one from the home folder's tilde) starting in a
# folder where people, machines and jobs keep their own files: home folders, workspaces, mounts, temporary folders.
# Absolute paths into the system (/usr, /etc, /dev, /proc, /bin, /lib) are allowed: they name tools and devices
# every machine set up by the Makefile has (Debian's /usr/bin/chromium, /usr/lib/postgresql, /dev/null), not data. A
# root counts only where a path starts: after a URL's host, a variable ($(CURDIR)/tmp, {root}/home) or another path
# segment it is relative, not outside.
MACHINE_ROOTS = ("work", "home", "Users", "root", "tmp", "var/tmp", "private", "mnt", "media", "srv", "scratch")
OUTSIDE = re.compile(r"(?:(?<![\w.$)}\]~/-])|(?<=file://))/(?:%s)(?![\w.-])|(?<![\w.$)}\]/-])~/"
                     % "|".join(re.escape(root) for root in MACHINE_ROOTS))
# Not scanned: README.md files (their example deployments' server folders are the reader's to choose), tests/fixtures/
# (published data, copied unchanged, and the rule's own examples) and whatever .gitignore leaves out (.venv,
# node_modules, builds, data/).


def scanned_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    return [name for name in listed if name and Path(name).name != "README.md"
            and not name.startswith("tests/fixtures/") and (REPO / name).is_file()]


def test_the_rule_flags_paths_outside_the_checkout_and_nothing_else():
    # the rule's examples, a line each: what must be flagged, and what must not. Kept under tests/fixtures/, which is
    # not scanned, and with {/} and {~} standing for the slash and tilde that start a root, so that no file of the
    # checkout, the examples included, names a path outside it.
    examples = REPO / "tests" / "fixtures" / "path_rule"
    outside, inside = ((examples / f"{name}.txt").read_text(encoding="utf-8").replace("{/}", "/").replace("{~}", "~")
                       .splitlines() for name in ("outside", "inside"))
    assert len(outside) == 11 and len(inside) == 12
    assert [line for line in outside + inside if OUTSIDE.search(line)] == outside


def test_nothing_in_the_checkout_names_a_path_outside_it():
    files = scanned_files()
    assert {"Makefile", ".ci/run", "tests/test_real_data.py", "benchmarks/generate.py",
            "pipelines/definitions.py", "transforms/catalogue.py", "examples/generator.py"} <= set(files)
    found = []
    for name in files:
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:  # not text: nothing that could be a path in code
            continue
        found += [f"{name}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
                  if OUTSIDE.search(line)]
    assert found == [], "\n".join(found)
