"""The container deployment as far as this machine can test it (no container engine runs here): the Dockerfile
passes hadolint, copies what exists and serves the code location the workspace names, and the deployment's
instance is the PostgreSQL one plus a Docker run launcher whose settings the launcher accepts."""

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml
from dagster_docker import DockerRunLauncher

from tests.operations import PROCESS_SECONDS, REPO

DOCKERFILE = REPO / "Dockerfile"


def test_the_dockerfile_passes_hadolint():
    linted = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=PROCESS_SECONDS)
    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "", "")


def test_the_image_copies_what_exists_installs_extras_that_exist_and_serves_the_workspaces_module():
    text = DOCKERFILE.read_text(encoding="utf-8")
    copied = [part for line in re.findall(r"^COPY (.+) \S+$", text, re.M) for part in line.split()]
    assert copied == ["pyproject.toml", "README.md", "workspace.yaml", "pipelines", "transforms", "expectations",
                      "examples", "config"]
    assert all((REPO / path).exists() for path in copied)
    extras = re.search(r"pip install --no-cache-dir '\.\[([a-z,]+)\]'", text).group(1).split(",")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert extras == ["spark", "connect", "deploy"] and set(extras) <= set(project["optional-dependencies"])
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))
    assert re.search(r'"--module-name", "([\w.]+)"', text).group(1) == \
        workspace["load_from"][0]["python_module"]["module_name"] == "pipelines.definitions"
    assert "cp config/dagster-deploy.yaml \"$DAGSTER_HOME/dagster.yaml\"" in text


def test_the_deployment_instance_is_the_postgres_one_with_a_docker_run_launcher():
    deploy = yaml.safe_load((REPO / "config" / "dagster-deploy.yaml").read_text(encoding="utf-8"))
    postgres = yaml.safe_load((REPO / "config" / "dagster-postgres.yaml").read_text(encoding="utf-8"))
    launcher = deploy.pop("run_launcher")
    assert deploy == postgres
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    assert set(launcher["config"]) <= set(DockerRunLauncher.config_type())
    assert {"DAGSTER_PG_PASSWORD", "PIPELINE_DATA_DIR", "SPARK_CONNECT_TOKEN"} <= set(launcher["config"]["env_vars"])
