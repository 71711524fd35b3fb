"""Great Expectations: suites from ``expectations/``, validation of Spark DataFrames, Data Docs, summaries.

Suites are reviewable JSON files, one per table, named ``<layer>.<table>.json`` in the
format Great Expectations 1.x saves (``name``, ``expectations`` with ``type``,
``kwargs``, ``meta`` and ``severity``). Each expectation states its severity twice on
purpose: ``meta.severity`` is what reviewers read and our reports use, the top-level
``severity`` is what GX renders; the loader rejects a file where they disagree.

Two ``meta`` conventions decide when an expectation is skipped rather than run
(and listed as skipped in the summary, never silently dropped):

* a check column (``chk_*``) or a column marked ``"if_column_present": true`` that
  the validated frame does not have (the check's inputs are absent, or an optional
  column is not produced);
* a ``{"$PARAMETER": name}`` value whose parameter this run has no value for
  (for example a row-count bound relative to a table not written yet).

The GX context is ephemeral (suites come from the files each run) with one
filesystem Data Docs site at the report directory; frames are validated as Spark
DataFrames through a dataframe asset, so nothing is converted to pandas.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import great_expectations as gx
from delta.tables import DeltaTable
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from pyspark.sql import DataFrame, SparkSession

from journeylake.resources import EXPECTATIONS, resource
from journeylake.validate import CHECK_PREFIX

log = logging.getLogger(__name__)

CRITICAL = "critical"
WARNING = "warning"
SEVERITIES = (CRITICAL, WARNING)
DATASOURCE_NAME = "journeylake_lake"
DOCS_SITE_NAME = "journeylake"
DEFAULT_DOCS_SITE = "local_site"  # the ephemeral context's temp-dir site; we publish to the report dir only
PARAMETER_KEY = "$PARAMETER"
# Two passes per table. The first computes only counts (BASIC without example values): GX bundles the row-level
# conditions of a table into one aggregation, instead of a scan per expectation to fetch examples. The second
# runs only the expectations that failed, with SUMMARY: counts and up to 20 example values, enough to act on.
FIRST_PASS_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
MAX_EXAMPLES_IN_SUMMARY = 5


class SuiteError(ValueError):
    """A suite file is malformed: the run stops before validating anything with it."""


@dataclass(frozen=True)
class SuiteFile:
    name: str  # "<layer>.<table>"
    path: Path
    expectations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Outcome:
    """One expectation's result on one table, in the terms the stage and the summary use."""

    table: str
    expectation_type: str
    column: str
    severity: str
    rule: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    examples: tuple[Any, ...] = ()
    error: str = ""

    def label(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.table}: {self.expectation_type} ({self.column or 'table'}){rule}"


@dataclass
class TableValidation:
    table: str
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # expectations not run, with the reason

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == CRITICAL]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == WARNING]


def suites_folder(configured: str = "") -> Traversable:
    """The configured suites folder, else the packaged ``expectations/`` (:mod:`journeylake.resources`)."""
    return Path(configured) if configured else resource(EXPECTATIONS)


def load_suite_files(suites_dir: str | Path | Traversable) -> dict[str, SuiteFile]:
    """Read every ``<layer>.<table>.json`` in ``suites_dir``; raise :class:`SuiteError` on a malformed file."""
    folder: Traversable = Path(suites_dir) if isinstance(suites_dir, str) else suites_dir
    if not folder.is_dir():
        raise SuiteError(f"expectation suites folder not found: {folder}")
    suites: dict[str, SuiteFile] = {}
    for item in sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name):
        path = Path(str(item))
        try:
            document = json.loads(item.read_text())
        except json.JSONDecodeError as error:
            raise SuiteError(f"{path}: not valid JSON: {error}") from error
        name = document.get("name")
        if name != path.stem:
            raise SuiteError(f"{path}: suite name {name!r} must equal the file name {path.stem!r}")
        expectations = document.get("expectations")
        if not isinstance(expectations, list) or not expectations:
            raise SuiteError(f"{path}: 'expectations' must be a non-empty list")
        for index, expectation in enumerate(expectations):
            _check_expectation(path, index, expectation)
        suites[name] = SuiteFile(name=name, path=path, expectations=tuple(expectations))
    return suites


def _check_expectation(path: Path, index: int, expectation: dict[str, Any]) -> None:
    where = f"{path}: expectation {index} ({expectation.get('type')})"
    severity = expectation.get("meta", {}).get("severity")
    if severity not in SEVERITIES:
        raise SuiteError(f"{where}: meta.severity must be one of {SEVERITIES}, got {severity!r}")
    if expectation.get("severity", severity) != severity:
        raise SuiteError(f"{where}: severity {expectation.get('severity')!r} disagrees with meta.severity")
    try:
        # Build it now: GX would otherwise log an invalid expectation and drop it from the suite.
        ExpectationConfiguration(**_gx_fields(expectation)).to_domain_obj()
    except Exception as error:
        raise SuiteError(f"{where}: not a valid Great Expectations expectation: {error}") from error


def _gx_fields(expectation: dict[str, Any]) -> dict[str, Any]:
    known = ("type", "kwargs", "meta", "severity", "description", "notes")
    return {k: copy.deepcopy(v) for k, v in expectation.items() if k in known}


def parameters_of(expectation: dict[str, Any]) -> list[str]:
    """The ``$PARAMETER`` names an expectation (as in a suite file) refers to."""
    kwargs = expectation.get("kwargs", {})
    return [v[PARAMETER_KEY] for v in kwargs.values() if isinstance(v, dict) and PARAMETER_KEY in v]


def _columns_of(kwargs: dict[str, Any]) -> list[str]:
    named = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return named + list(kwargs.get("column_list", []))


def _skip_reason(expectation: dict[str, Any], columns: set[str], parameters: dict[str, Any]) -> str:
    kwargs = expectation.get("kwargs", {})
    optional = expectation.get("meta", {}).get("if_column_present", False)
    for column in _columns_of(kwargs):
        if column not in columns and (optional or column.startswith(CHECK_PREFIX)):
            return f"column {column} not present"
    for name in parameters_of(expectation):
        if name not in parameters:
            return f"parameter {name} not available"
    return ""


def _column_label(kwargs: dict[str, Any]) -> str:
    return ",".join(_columns_of(kwargs))


class ExpectationRunner:
    """One ephemeral GX context: validates frames against suites and publishes Data Docs to ``report_dir``."""

    def __init__(self, report_dir: str | Path) -> None:
        self.report_dir = Path(report_dir).resolve()
        self.report_dir.mkdir(parents=True, exist_ok=True)
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        if DEFAULT_DOCS_SITE in self.context.list_data_docs_sites():
            self.context.delete_data_docs_site(DEFAULT_DOCS_SITE)
        self.context.add_data_docs_site(
            DOCS_SITE_NAME,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.report_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        self.datasource = self.context.data_sources.add_spark(DATASOURCE_NAME)

    def add_suite(self, suite: SuiteFile, skip: set[int] | None = None) -> gx.ExpectationSuite:
        """Register ``suite`` (minus the expectations at the ``skip`` indexes) under its table name."""
        expectations = [
            ExpectationConfiguration(**_gx_fields(e)).to_domain_obj()
            for i, e in enumerate(suite.expectations)
            if i not in (skip or set())
        ]
        built = gx.ExpectationSuite(name=suite.name, expectations=expectations)
        return self.context.suites.add_or_update(built)

    def validate(
        self,
        suite: SuiteFile,
        frame: DataFrame,
        parameters: dict[str, Any],
        run_name: str,
    ) -> TableValidation:
        """Validate the Spark DataFrame ``frame`` against ``suite``; results go to the Data Docs store."""
        validation = TableValidation(table=suite.name)
        columns = set(frame.columns)
        skip: set[int] = set()
        for index, expectation in enumerate(suite.expectations):
            reason = _skip_reason(expectation, columns, parameters)
            if reason:
                skip.add(index)
                kwargs = expectation.get("kwargs", {})
                validation.skipped.append(f"{expectation['type']} ({_column_label(kwargs) or 'table'}): {reason}")
        gx_suite = self.add_suite(suite, skip)
        if not gx_suite.expectations:
            return validation

        asset = next((a for a in self.datasource.assets if a.name == suite.name), None)
        if asset is None:
            asset = self.datasource.add_dataframe_asset(suite.name)
        batch = next((b for b in asset.batch_definitions if b.name == suite.name), None)
        if batch is None:
            batch = asset.add_batch_definition_whole_dataframe(suite.name)
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        used = {p for e in suite.expectations for p in parameters_of(e)}
        expectation_parameters = {k: v for k, v in parameters.items() if k in used}
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=expectation_parameters,
            result_format=FIRST_PASS_FORMAT,
            run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC)),
        )
        outcomes = [_outcome(suite.name, r) for r in result.results]
        failed = [r.expectation_config for r in result.results if not r.success and r.expectation_config is not None]
        if failed:
            # Fresh expectation objects: GX refuses to put one suite's expectations into another.
            again = [
                ExpectationConfiguration(type=c.type, kwargs=c.kwargs, meta=c.meta).to_domain_obj() for c in failed
            ]
            details = batch.get_batch(batch_parameters={"dataframe": frame}).validate(
                gx.ExpectationSuite(name=f"{suite.name}.failed", expectations=again),
                result_format=RESULT_FORMAT,
                expectation_parameters=expectation_parameters,
            )
            examples = {_key(r.expectation_config): _outcome(suite.name, r) for r in details.results}
            outcomes = [
                examples.get(_key(r.expectation_config), o) for r, o in zip(result.results, outcomes, strict=True)
            ]
        validation.outcomes.extend(outcomes)
        return validation

    def build_docs(self) -> Path:
        """Write the Data Docs site (every registered suite and this context's validations); return index.html."""
        self.context.build_data_docs(site_names=[DOCS_SITE_NAME])
        index = self.report_dir / "index.html"
        if not index.exists():
            raise RuntimeError(f"Great Expectations did not write {index}")
        return index


def _key(config: Any) -> str:
    """An expectation's identity across the two passes: its type, arguments and meta (severity, rule)."""
    return json.dumps({"type": config.type, "kwargs": config.kwargs, "meta": config.meta}, sort_keys=True, default=str)


def _outcome(table: str, expectation_result: Any) -> Outcome:
    config = expectation_result.expectation_config
    meta = config.meta or {}
    result = expectation_result.result or {}
    error = ""
    info = expectation_result.exception_info or {}
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "")
    else:
        # Metric errors are keyed by metric id, one level down.
        for nested in info.values():
            if isinstance(nested, dict) and nested.get("raised_exception"):
                error = str(nested.get("exception_message") or "")
                break
    examples = tuple(result.get("partial_unexpected_list") or ())[:MAX_EXAMPLES_IN_SUMMARY]
    return Outcome(
        table=table,
        expectation_type=config.type,
        column=_column_label(config.kwargs),
        severity=str(meta.get("severity", CRITICAL)),
        rule=str(meta.get("rule", "")),
        success=bool(expectation_result.success),
        observed=result.get("observed_value"),
        unexpected_count=result.get("unexpected_count"),
        examples=examples,
        error=error,
    )


def summary_document(
    run_id: str,
    as_of: datetime,
    index: Path | str,
    validations: list[TableValidation],
    skipped_tables: list[str],
) -> dict[str, Any]:
    """The run's JSON summary: per table the failures (critical and warning) and the skipped expectations."""
    tables: dict[str, Any] = {}
    for validation in validations:
        tables[validation.table] = {
            "success": not validation.critical_failures and not validation.warnings,
            "evaluated": len(validation.outcomes),
            "passed": sum(o.success for o in validation.outcomes),
            "critical_failures": [asdict(o) for o in validation.critical_failures],
            "warnings": [asdict(o) for o in validation.warnings],
            "skipped_expectations": validation.skipped,
        }
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "report": str(index),
        "critical_failures": sum(len(v.critical_failures) for v in validations),
        "warnings": sum(len(v.warnings) for v in validations),
        "tables": tables,
        "skipped_tables": skipped_tables,
    }


def write_summary(report_dir: str | Path, run_id: str, document: dict[str, Any]) -> Path:
    safe_run_id = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)  # the run id becomes part of a file name
    path = Path(report_dir) / f"summary-{safe_run_id}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_previous_version(spark: SparkSession, path: str) -> DataFrame | None:
    """The Delta table at ``path`` as of its previous version (time travel); None when it has only one."""
    latest = DeltaTable.forPath(spark, path).history(1).select("version").first()
    if latest is None or latest["version"] < 1:
        return None
    return spark.read.format("delta").option("versionAsOf", latest["version"] - 1).load(path)
