# The README's commands. Each target sets up .venv on first use, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster
export GX_ANALYTICS_ENABLED := false

.PHONY: setup demo run test dev dashboards bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode -e '.[test]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

demo: setup
	$(PY) -m pipelines.example_data --out data/landing
	$(PY) -m pipelines.run

run: setup
	$(PY) -m pipelines.run

test: setup
	$(PY) -m pytest

# The UI listens on loopback only; expose it (DAGSTER_UI_HOST=0.0.0.0) only behind an authenticating proxy (README).
DAGSTER_UI_HOST ?= 127.0.0.1
dev: setup
	$(VENV)/bin/dagster dev -w workspace.yaml --host $(DAGSTER_UI_HOST) --port 3000

clean:
	rm -rf data $(DAGSTER_HOME)
