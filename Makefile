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
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -rf jars && mvn -q -B -f jvm/pom.xml dependency:copy-dependencies -DexcludeTransitive=true -DoutputDirectory=$(CURDIR)/jars
	$(PY) -c "import duckdb, duckdb_extension_spatial as m, pathlib; f = next(pathlib.Path(m.__file__).parent.rglob('*.duckdb_extension')); duckdb.connect().execute(f\"INSTALL '{f}'\")"
	touch $(STAMP)

# ---- quality ---------------------------------------------------------------
.PHONY: test
test: $(STAMP) ## Run the whole test suite (what CI runs)
	$(PY) -m pytest -m "not bench" $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: $(STAMP) ## Run only the fast unit tests
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check lib jobs tests
	$(VENV)/bin/ruff format --check lib jobs tests
	$(VENV)/bin/mypy

.PHONY: format
format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format lib jobs tests
	$(VENV)/bin/ruff check --fix lib jobs tests

# ---- pipeline --------------------------------------------------------------
.PHONY: run
run: $(STAMP) ## Run the whole pipeline on generated sample data into ./lakehouse
	$(PY) jobs/run_pipeline.py --config $(CONFIG) --lake $(LAKE)

.PHONY: sample
sample: $(STAMP) ## Generate the sample world into SAMPLE_DIR (SEED=, SCALE=)
	$(PY) jobs/generate_sample.py --out $(SAMPLE_DIR) --seed $(SEED) --scale $(SCALE)

.PHONY: clean
clean: ## Remove the lake, generated data, reports and caches (keeps .venv and jars)
	rm -rf $(LAKE) data reports spark-warehouse metastore_db derby.log .pytest_cache .mypy_cache .ruff_cache dist build
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## Also remove .venv and the jars
	rm -rf $(VENV) jars
