# The README's commands. Each target sets up .venv on first use, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster
export PIPELINE_DATA_DIR ?= $(CURDIR)/data
export PIPELINE_CONFIG_DIR ?= $(CURDIR)/config
export GX_ANALYTICS_ENABLED := false

.PHONY: setup check-config preview demo run lint test test-fast dev dashboards dashboards-dev dashboards-install bench clean \
	portal portal-install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode -e '.[test]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

# The dashboards (Evidence, npm only) and the browser their test drives (Debian's chromium).
DASHBOARDS_STAMP := dashboards/node_modules/.installed
export EVIDENCE_VAR__published_dir ?= $(CURDIR)/data/published

$(DASHBOARDS_STAMP): dashboards/package.json dashboards/package-lock.json $(wildcard dashboards/patches/*.patch)
	cd dashboards && npm install --no-audit --no-fund  # not npm ci: npm 11 rejects this lock for missing foreign-platform DuckDB bindings
	touch $@

dashboards-install: $(DASHBOARDS_STAMP)

# The submission portal's front end: GOV.UK Frontend (and axe-core for its test) from npm, served from
# pipelines/portal/node_modules (no CDN). `make portal` serves it on http://127.0.0.1:8000 (README).
PORTAL_STAMP := pipelines/portal/node_modules/.installed
$(PORTAL_STAMP): pipelines/portal/package.json pipelines/portal/package-lock.json
	cd pipelines/portal && npm ci --no-audit --no-fund
	touch $@

portal-install: $(PORTAL_STAMP)

PORTAL_HOST ?= 127.0.0.1
PORTAL_PORT ?= 8000
portal: setup $(PORTAL_STAMP)
	$(PY) -m pipelines portal serve --host $(PORTAL_HOST) --port $(PORTAL_PORT)

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

demo: setup
	$(PY) -m examples.generator --out data/landing
	$(PY) -m pipelines.run --demo

# Every problem of config/ (or $PIPELINE_CONFIG_DIR), each with its file, entry and key; exits 1 if there is any.
check-config: setup
	$(PY) -m pipelines check-config

# What a run would make of one file, writing nothing: make preview AGENCY=<id> FILE=<path> [MONTH=YYYY-MM]
preview: setup
	$(PY) -m pipelines preview $(AGENCY) $(FILE) $(if $(MONTH),--month $(MONTH))

run: setup
	$(PY) -m pipelines.run

# The layers' contracts, then Python and SQL linted by the rules in pyproject.toml. `ruff check --fix` mends most of
# what ruff finds.
lint: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check
	$(VENV)/bin/sqlfluff lint transforms pipelines dashboards/sources

# The suite runs its test files in one worker process a core (TEST_WORKERS=0: in this process, one file after
# another), the longest files first (tests/conftest.py; xdist's own order, most tests first, is turned off), and ends
# with its 15 slowest tests. Its temporary folders (each test's data folder, warehouse and Dagster instance) are in
# memory where /dev/shm has 4 GB free: on a disk, the instances' and warehouses' syncs took half of a pipeline run's
# time (a run of 13 months: 25 s on disk, 14 s in memory, at load 5). A run that passes leaves nothing there; a run
# with a failure keeps all its folders to look at (about 850 MB; pytest keeps the last three runs').
TEST_WORKERS ?= auto
TEST_TMPDIR ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 4194304 {print "/dev/shm"}')
PYTEST = $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile \
	--no-loadscope-reorder -o tmp_path_retention_policy=failed
test: lint $(DASHBOARDS_STAMP) $(PORTAL_STAMP) /usr/bin/chromium
	$(PYTEST) --durations=15

# The inner loop: every test but those marked as needing PostgreSQL, Spark, the browser, the site build or a killed
# run (the markers in pyproject.toml); no linters.
test-fast: setup $(DASHBOARDS_STAMP)
	$(PYTEST) --durations=10 -m "not (postgres or spark or browser or site or crash)"

# The UI listens on loopback only; expose it (DAGSTER_UI_HOST=0.0.0.0) only behind an authenticating proxy (README).
DAGSTER_UI_HOST ?= 127.0.0.1
# `dg dev` supersedes `dagster dev` but needs dagster-dg-cli, which this project does not install: its notice is quieted.
dev: setup
	PYTHONWARNINGS='ignore:Function `dev_command` is superseded' \
		$(VENV)/bin/dagster dev -w workspace.yaml --host $(DAGSTER_UI_HOST) --port 3000

# PostgreSQL for the production-instance tests, which start and stop a throwaway cluster of their own.
.PHONY: postgresql
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }

test: postgresql

dashboards: $(DASHBOARDS_STAMP)
	@test -f $(EVIDENCE_VAR__published_dir)/datapackage.json || \
		{ echo "no published data in $(EVIDENCE_VAR__published_dir): run make demo first"; exit 1; }
	cd dashboards && timeout 300 npm run sources && npm run build:strict
	@echo "site in dashboards/build/ (serve it: python3 -m http.server -d dashboards/build -b 127.0.0.1 3001)"

dashboards-dev: $(DASHBOARDS_STAMP)
	cd dashboards && timeout 300 npm run sources && npm run dev

# Transaction-level extracts at 10M and 50M events (pipeline, DuckDB floor, Polars, pandas) and 200M (pipeline), then
# one new month of 10M on top of 36, make demo and start-up: writes benchmarks/RESULTS.md. Long (tens of minutes); the
# data goes to data/bench/. SPARK=1 adds the pipeline with its extract stage on Spark (local[2]; BENCH_SPARK_MASTER
# to change) at 10M and 50M. SIZE=1B runs the pipeline alone at that size (about 36 GB of disk while it runs).
# SITE=2000 also builds the dashboards for a generated national catalogue of that many services (benchmarks/site.py).
bench: setup
	$(PY) -m benchmarks.run $(if $(SIZE),--scale $(SIZE),--sizes 10M,50M --pipeline-only 200M --months-built 36 \
		--events-per-month 10M) $(if $(filter 1,$(SPARK)),--spark) $(if $(SITE),--site $(SITE))

clean:
	rm -rf data $(DAGSTER_HOME)
