"""jobs/validate.py on a tiny Delta lake: critical failures stop it by name, and the report shows them."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.io.delta import merge_table, overwrite_table, table_path
from journeylake.schemas.attribution import ATTRIBUTION_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA

pytestmark = pytest.mark.integration

AS_OF = "2024-01-20T00:00:00"
SEEN = datetime(2024, 1, 10, 10, 0, 0)
JOB_SCRIPT = Path(__file__).resolve().parents[2] / "jobs" / "validate.py"


def _load_job() -> ModuleType:
    """jobs/validate.py is a script, not a package module: load it from its file."""
    spec = importlib.util.spec_from_file_location("jobs_validate", JOB_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _identity_rows(moved_canonical: int) -> list[tuple[object, ...]]:
    names = IDENTITY_MAP_SCHEMA.names
    base = {"node_key": 1, "confidence": 1.0, "method": "deterministic", "first_seen": SEEN, "last_seen": SEEN}
    base.update({"updated_run_id": "r1"})
    rows = [
        {**base, "id_type": "device", "id_value": "d1", "canonical_user_id": 100},
        {**base, "id_type": "device", "id_value": "d9", "canonical_user_id": moved_canonical},
    ]
    return [tuple(row.get(n) for n in names) for row in rows]


def _attribution_rows() -> list[tuple[object, ...]]:
    names = ATTRIBUTION_SCHEMA.names
    common = {
        "conversion_id": "j1",
        "journey_id": "j1",
        "canonical_user_id": 100,
        "conversion_type": "purchase",
        "conversion_ts": SEEN,
        "conversion_date": SEEN.date(),
        "conversion_value": 10.0,
        "touch_ts": SEEN,
        "channel": "Direct",
        "model": "linear",
        "included": True,
        "reason": "included",
    }
    rows = [
        {**common, "touchpoint_id": "e1", "position": 1, "credit": 0.5, "credited_value": 5.0},
        {**common, "touchpoint_id": "e2", "position": 2, "credit": 0.4, "credited_value": 4.0},  # sums to 0.9
    ]
    return [tuple(row.get(n) for n in names) for row in rows]


def test_validate_job_fails_on_critical_expectations_and_reports_them(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    report_dir = tmp_path / "report"
    overwrite_table(
        spark.createDataFrame(_attribution_rows(), ATTRIBUTION_SCHEMA),
        table_path(lake, "gold", "attribution"),
    )
    identity_path = table_path(lake, "silver", "identity_map")
    merge_table(
        spark, spark.createDataFrame(_identity_rows(200), IDENTITY_MAP_SCHEMA), identity_path, ["id_type", "id_value"]
    )
    # The next version moves untouched d9 to another canonical id, and no merge is recorded.
    merge_table(
        spark, spark.createDataFrame(_identity_rows(201), IDENTITY_MAP_SCHEMA), identity_path, ["id_type", "id_value"]
    )

    job = _load_job()
    exit_code = job.run(
        spark,
        job.parse_args(["--lake", str(lake), "--report-dir", str(report_dir), "--as-of", AS_OF, "--run-id", "it-1"]),
    )

    captured = capsys.readouterr()
    assert exit_code == 1
    assert (
        "critical expectation failed: gold.attribution: expect_column_values_to_be_between (chk_credit_sum) (+1 more)"
        in captured.err
    )
    assert f"expectation report: {report_dir.resolve() / 'index.html'}" in captured.out

    index = report_dir / "index.html"
    assert index.exists()
    index_html = index.read_text()
    assert "gold.attribution" in index_html and "silver.identity_map" in index_html
    assert "gold.user_journeys" in index_html  # suites of absent tables are listed too
    pages = {p.read_text() for p in (report_dir / "validations").rglob("*.html")}
    assert any("credits_sum_to_one" in page for page in pages)
    assert any("canonical_id_stable_without_merge" in page for page in pages)

    summary = json.loads((report_dir / "summary-it-1.json").read_text())
    assert summary["critical_failures"] == 2
    assert [f["rule"] for f in summary["tables"]["gold.attribution"]["critical_failures"]] == ["credits_sum_to_one"]
    assert [f["rule"] for f in summary["tables"]["silver.identity_map"]["critical_failures"]] == [
        "canonical_id_stable_without_merge"
    ]
    assert "gold.user_journeys" in summary["skipped_tables"]
    assert spark.read.format("delta").load(identity_path).where(F.col("canonical_user_id") == 201).count() == 1
