# journeylake: every entry point a user needs. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
LAKE ?= lakehouse
CONFIG ?= conf/default.toml
SAMPLE_DIR ?= data/sample
SEED ?= 42
SCALE ?= 1.0
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

# ---- setup -----------------------------------------------------------------
.PHONY: setup
setup: $(STAMP) ## Install Python deps into .venv, resolve the JVM jars with Maven, prepare the BigQuery emulator (idempotent)

$(STAMP): pyproject.toml jvm/pom.xml
	@command -v $(PYTHON_BIN) >/dev/null || { echo "error: $(PYTHON_BIN) not found (Python 3.11 is required)"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found (Java 17 is required)"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn not found (Maven resolves the Delta and JDBC jars)"; exit 1; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing PostgreSQL (Debian package) for the backend tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || \
		echo "warning: could not install postgresql; the PostgreSQL-backed tests will fail"; }
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -rf jars && mvn -q -B -f jvm/pom.xml dependency:copy-dependencies -DexcludeTransitive=true -DoutputDirectory=$(CURDIR)/jars
	$(PY) -c "import duckdb, duckdb_extension_spatial as m, pathlib; f = next(pathlib.Path(m.__file__).parent.rglob('*.duckdb_extension')); duckdb.connect().execute(f\"INSTALL '{f}'\")"
	touch $(STAMP)

# ---- quality ---------------------------------------------------------------
.PHONY: test
test: $(STAMP) ## Run the test suite CI runs (everything but benchmarks and the long tier)
	$(PY) -m pytest -m "not bench and not long" $(PYTEST_ARGS)

.PHONY: test-long
test-long: $(STAMP) ## Run the long tier: the cluster run, the real-GA4 cadence test, the stage jobs in sequence
	$(PY) -m pytest -m long $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: $(STAMP) ## Run only the fast unit tests
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff, mypy and the dependency audit
	$(VENV)/bin/ruff check lib jobs tests
	$(VENV)/bin/ruff format --check lib jobs tests
	$(VENV)/bin/mypy
	$(MAKE) --no-print-directory audit

# Known vulnerabilities accepted after review, as "--ignore-vuln ID" flags; each one is explained in README
# ("Dependency audit"). Empty: any known vulnerability in an installed package fails the audit.
AUDIT_IGNORE ?=
.PHONY: audit
audit: $(STAMP) ## pip-audit every installed dependency (pins and their dependencies) for known vulnerabilities
	$(VENV)/bin/pip-audit --local --skip-editable --progress-spinner off $(AUDIT_IGNORE)

.PHONY: format
format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format lib jobs tests
	$(VENV)/bin/ruff check --fix lib jobs tests

# ---- pipeline --------------------------------------------------------------
.PHONY: run
run: $(STAMP) ## Run the whole pipeline on generated sample data into ./lakehouse (SEED=, SCALE=; GA4=DIR for an export)
	$(PY) jobs/run_pipeline.py --config $(CONFIG) --lake $(LAKE) --sample-dir $(SAMPLE_DIR) --sample-seed $(SEED) --sample-scale $(SCALE) $(if $(GA4),--ga4 $(GA4))

# One stage at a time (each reads what the earlier stages wrote in LAKE).
STAGE_ARGS = --config $(CONFIG) --lake $(LAKE) --sample-dir $(SAMPLE_DIR)

.PHONY: ingest
ingest: $(STAMP) ## Ingest GA4 and the other sources into bronze (GA4=DIR to ingest a GA4 export folder)
	$(PY) jobs/ingest.py $(STAGE_ARGS) $(if $(GA4),--ga4 $(GA4))

.PHONY: identity
identity: $(STAMP) ## Resolve cross-device identity into silver.identity_map
	$(PY) jobs/resolve_identity.py $(STAGE_ARGS)

.PHONY: identity-quality
identity-quality: $(STAMP) ## Score identity on the default generated sample against its truth (last line: precision= recall=)
	$(PY) jobs/run_pipeline.py --config $(CONFIG) --lake $(LAKE)/_identity_quality --sample-dir $(SAMPLE_DIR) --until identity
	$(PY) jobs/identity_quality.py --lake $(LAKE)/_identity_quality --truth $(SAMPLE_DIR)/truth

.PHONY: journeys
journeys: $(STAMP) ## Build sessions, journeys, state transitions and users
	$(PY) jobs/build_journeys.py $(STAGE_ARGS)

.PHONY: attribution
attribution: $(STAMP) ## Attribute conversions (all models) and build channel history
	$(PY) jobs/attribute.py $(STAGE_ARGS)

.PHONY: attribute-paths
attribute-paths: $(STAMP) ## Attribute an aggregated ChannelAttribution paths file: IN=paths.csv OUT=result.csv
	$(PY) jobs/attribute_paths.py --input $(IN) --output $(OUT)

.PHONY: abandonment
abandonment: $(STAMP) ## Detect abandonment, funnels and competitor impact
	$(PY) jobs/detect_abandonment.py $(STAGE_ARGS)

.PHONY: rl
rl: $(STAMP) ## Export reinforcement-learning transitions and next-channel recommendations
	$(PY) jobs/export_rl.py $(STAGE_ARGS)

.PHONY: reconcile
reconcile: $(STAMP) ## Reconcile GA4 purchases with backend orders (JDBC_URL=jdbc:postgresql://... to read PostgreSQL)
	$(PY) jobs/reconcile.py $(STAGE_ARGS) $(if $(JDBC_URL),--jdbc-url $(JDBC_URL))

.PHONY: validate
validate: $(STAMP) ## Validate every table with Great Expectations; HTML report in LAKE/reports/expectations/
	$(PY) jobs/validate.py --config $(CONFIG) --lake $(LAKE)

.PHONY: report
report: $(STAMP) ## Write the run report (charts, self-contained) to LAKE/reports/run/index.html
	$(PY) jobs/report.py --config $(CONFIG) --lake $(LAKE)

# Benchmarks (issue 13): SCALES="0.5 2" (or SCALE=2 for one scale); each scale runs in a fresh process.
# Writes bench/results/<date>.json and BENCHMARKS.md and prints the tables; never fails on speed.
BENCH_SCALES = $(or $(SCALES),$(if $(filter command line environment,$(origin SCALE)),$(SCALE),0.5 2))
.PHONY: bench
bench: $(STAMP) ## Benchmark the pipeline and a DuckDB reference: SCALES="0.5 2"; results in BENCHMARKS.md
	$(PY) -m bench.run_bench --scales "$(BENCH_SCALES)" $(BENCH_ARGS)

# BigQuery: by default `make publish` targets a local emulator (started if not running, data in memory).
# For a real project: make publish BQ_ENDPOINT= BQ_PROJECT=my-project BQ_DATASET=journeylake BQ_STAGING_URI=gs://bucket/prefix
BQ_PROJECT ?= test-project
BQ_DATASET ?= journeylake
BQ_STAGING_URI ?= gs://journeylake-staging/publish
BQ_PORT ?= 9050
BQ_GRPC_PORT ?= 9060
BQ_GCS_ROOT ?= .bqemu-gcs
BQ_LOCAL_ENDPOINT = http://127.0.0.1:$(BQ_PORT)
BQ_ENDPOINT ?= $(BQ_LOCAL_ENDPOINT)
BQ_EMULATOR_ARGS = --port $(BQ_PORT) --grpc-port $(BQ_GRPC_PORT) --gcs-root $(BQ_GCS_ROOT) --project $(BQ_PROJECT)

.PHONY: publish
publish: $(STAMP) ## Publish the lake's gold tables to BigQuery (local emulator by default; see BQ_* variables)
	$(if $(filter $(BQ_LOCAL_ENDPOINT),$(BQ_ENDPOINT)),$(PY) jobs/bq_emulator.py start $(BQ_EMULATOR_ARGS))
	$(if $(BQ_ENDPOINT),BQEMU_GCS_LOCAL_ROOT=$(BQ_GCS_ROOT)) $(PY) jobs/publish_bigquery.py --config $(CONFIG) --lake $(LAKE) \
		--project $(BQ_PROJECT) --dataset $(BQ_DATASET) --staging-uri $(BQ_STAGING_URI) $(if $(BQ_ENDPOINT),--api-endpoint $(BQ_ENDPOINT))

.PHONY: bq-emulator
bq-emulator: $(STAMP) ## Start a local BigQuery emulator in the background (BQ_PORT, BQ_GCS_ROOT)
	$(PY) jobs/bq_emulator.py start $(BQ_EMULATOR_ARGS)

.PHONY: bq-emulator-stop
bq-emulator-stop: $(STAMP) ## Stop the local BigQuery emulator started by make bq-emulator or make publish
	$(PY) jobs/bq_emulator.py stop

PG_PORT ?= 55432
.PHONY: postgres-start
postgres-start: $(STAMP) ## Start a local PostgreSQL (needs JOURNEYLAKE_DB_PASSWORD) and load the generated backend
	$(MAKE) --no-print-directory sample-if-missing
	$(PY) jobs/backend_postgres.py start --port $(PG_PORT)
	$(PY) jobs/backend_postgres.py load --port $(PG_PORT) --sample-dir $(SAMPLE_DIR)

.PHONY: postgres-stop
postgres-stop: $(STAMP) ## Stop the local PostgreSQL
	$(PY) jobs/backend_postgres.py stop

.PHONY: sample-if-missing
sample-if-missing: $(STAMP)
	@test -f $(SAMPLE_DIR)/manifest.json || $(PY) jobs/generate_sample.py --out $(SAMPLE_DIR) --seed $(SEED) --scale $(SCALE)

.PHONY: sample
sample: $(STAMP) ## Generate the sample world into SAMPLE_DIR (SEED=, SCALE=)
	$(PY) jobs/generate_sample.py --out $(SAMPLE_DIR) --seed $(SEED) --scale $(SCALE)

# ---- packaging -------------------------------------------------------------
.PHONY: package
package: $(STAMP) ## Build dist/journeylake-*.whl and dist/journeylake.zip (for spark-submit --py-files)
	rm -rf dist && mkdir -p dist
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	$(PY) -c "import zipfile, pathlib; z = zipfile.ZipFile('dist/journeylake.zip', 'w', zipfile.ZIP_DEFLATED); \
		[z.write(p, p.relative_to('lib')) for p in sorted(pathlib.Path('lib/journeylake').rglob('*')) if p.suffix in ('.py', '.typed')]; \
		[z.write(p, pathlib.Path('journeylake/_resources') / p) for d in ('conf', 'expectations') for p in sorted(pathlib.Path(d).iterdir()) if p.suffix in ('.toml', '.properties', '.json')]"
	@ls -1 dist

.PHONY: docs
docs: $(STAMP) ## Write the data dictionary docs/tables.md from the table catalog
	$(PY) jobs/make_docs.py --out docs/tables.md

.PHONY: clean
clean: ## Remove the lake, generated data, reports and caches (keeps .venv and jars)
	rm -rf $(LAKE) data reports spark-warehouse metastore_db derby.log .pytest_cache .mypy_cache .ruff_cache dist build
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## Also remove .venv and the jars
	rm -rf $(VENV) jars
