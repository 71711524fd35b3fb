"""The publish stage: off by default, the last pipeline stage, never run after a failed stage (validation)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from journeylake.config import BigQueryConfig, PipelineConfig, load_config, with_overrides
from journeylake.io.bigquery import PublishOutcome
from journeylake.io.delta import overwrite_table, table_path
from journeylake.publish import TRUNCATE, PublishedTable, PublishError, TableLayout
from journeylake.stages import RunContext, StageResult
from journeylake.stages import publish as publish_stage
from journeylake.stages.pipeline import REQUIRES_CLEAN_RUN, STAGES, run_pipeline

pytestmark = pytest.mark.unit

AS_OF = dt.datetime(2024, 3, 1)


def _context(spark: SparkSession, lake: Path, **bigquery: Any) -> RunContext:
    config = with_overrides(PipelineConfig(), **{"lake.root": str(lake)})
    if bigquery:
        config = replace(config, bigquery=replace(config.bigquery, **bigquery))
    return RunContext(spark=spark, config=config, run_id="run-1", as_of=AS_OF)


@dataclass
class FakePublisher:
    """Stands in for BigQuery: records what the stage asks for; fails on the table named in ``fail_on``."""

    fail_on: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def ensure_dataset(self) -> None:
        self.calls.append(("dataset", None))

    def publish(self, df: DataFrame, spec: PublishedTable, layout: TableLayout) -> Any:
        if spec.name == self.fail_on:
            raise PublishError(f"{spec.qualified_name}: boom")
        self.calls.append(("table", (spec.name, layout.mode, layout.partition_field)))
        rows = df.count()  # a tiny test table
        return PublishOutcome(spec.name, layout.mode, rows, 0, (), layout.partition_field, ())

    def delete_run_staging(self, spark: SparkSession) -> None:
        self.calls.append(("cleanup", None))


def test_publish_is_the_last_stage_right_after_validate_and_needs_a_clean_run() -> None:
    names = [name for name, _ in STAGES]
    assert names[-2:] == ["validate", "publish"]
    assert "publish" in REQUIRES_CLEAN_RUN


def test_publishing_is_off_by_default_in_the_code_and_in_conf_default_toml() -> None:
    assert BigQueryConfig().enabled is False
    assert load_config().bigquery.enabled is False


def test_disabled_stage_touches_nothing(spark: SparkSession, tmp_path: Path) -> None:
    publisher = FakePublisher()
    result = publish_stage.run(_context(spark, tmp_path), publisher=publisher)  # type: ignore[arg-type]
    assert not result.failed
    assert result.details == {"skipped": "bigquery.enabled is false"}
    assert publisher.calls == []


def test_enabled_stage_publishes_tables_in_the_lake_and_lists_the_missing_ones(
    spark: SparkSession, tmp_path: Path
) -> None:
    day = dt.date(2024, 2, 1)
    funnel = spark.createDataFrame(
        [(day, "paid", "view", 1, 10, 8, 2, 0.8)],
        "funnel_date date, channel string, step string, step_order int, entered long, completed long, "
        "dropped long, completion_rate double",
    )
    overwrite_table(funnel, table_path(tmp_path, "gold", "funnel_daily"))
    publisher = FakePublisher()
    context = _context(spark, tmp_path, enabled=True, tables=("funnel_daily", "users"))

    result = publish_stage.run(context, publisher=publisher)  # type: ignore[arg-type]

    assert not result.failed, result.message
    assert publisher.calls == [
        ("dataset", None),
        ("table", ("funnel_daily", TRUNCATE, "funnel_date")),
        ("cleanup", None),
    ]
    assert result.rows_out == {"funnel_daily": 1}
    assert result.details["skipped"] == ["gold.users"]


@pytest.mark.parametrize(
    ("bigquery", "message"),
    [
        ({"tables": ("nope",)}, "unknown table(s) to publish: nope"),
        ({"write_modes": (("users", "append"),)}, "bigquery.write_modes['users'] = 'append'"),
    ],
)
def test_bad_publish_configuration_fails_the_stage_with_one_line(
    spark: SparkSession, tmp_path: Path, bigquery: dict[str, Any], message: str
) -> None:
    publisher = FakePublisher()
    result = publish_stage.run(_context(spark, tmp_path, enabled=True, **bigquery), publisher=publisher)  # type: ignore[arg-type]
    assert result.failed
    assert result.message.startswith(message)
    assert publisher.calls == []


def test_target_configuration_is_validated_before_any_client_is_built(spark: SparkSession, tmp_path: Path) -> None:
    context = _context(spark, tmp_path, enabled=True, project="p`; DROP", staging_uri="gs://bucket/x")
    result = publish_stage.run(context)
    assert result.failed
    assert result.message.startswith("invalid BigQuery project 'p`; DROP'")
    no_uri = _context(spark, tmp_path, enabled=True, project="my-project", staging_uri="")
    assert publish_stage.run(no_uri).message.startswith("invalid staging URI ''")


def test_a_failing_table_stops_the_stage_and_names_it(spark: SparkSession, tmp_path: Path) -> None:
    day = dt.date(2024, 2, 1)
    history = spark.createDataFrame(
        [(day, "paid", "linear", 3, 1.0, 10.0, 2.0, 5.0, 2.0)],
        "date date, channel string, model string, touches long, attributed_conversions double, "
        "attributed_revenue double, cost double, roas double, cpa double",
    )
    overwrite_table(history, table_path(tmp_path, "gold", "channel_history"))
    publisher = FakePublisher(fail_on="channel_history")
    result = publish_stage.run(_context(spark, tmp_path, enabled=True), publisher=publisher)  # type: ignore[arg-type]
    assert result.failed
    assert result.message == "gold.channel_history: boom"
    assert ("cleanup", None) not in publisher.calls  # staged files of a failed run stay for inspection


def _recording(name: str, calls: list[str], fail: bool = False) -> Any:
    def runner(context: RunContext) -> StageResult:
        calls.append(name)
        return StageResult(stage=name, failed=fail, message="critical expectation failed" if fail else "")

    return runner


@pytest.mark.parametrize("stop_on_failure", [True, False])
def test_publish_never_runs_after_validation_failed(spark: SparkSession, tmp_path: Path, stop_on_failure: bool) -> None:
    calls: list[str] = []
    stages = [("validate", _recording("validate", calls, fail=True)), ("publish", _recording("publish", calls))]
    results = run_pipeline(_context(spark, tmp_path), stages=stages, stop_on_failure=stop_on_failure)
    assert calls == ["validate"]
    assert results[0].failed
    if not stop_on_failure:
        assert results[1].stage == "publish" and not results[1].failed
        assert results[1].details["skipped"] == "stage validate failed"


def test_publish_runs_after_a_clean_validation(spark: SparkSession, tmp_path: Path) -> None:
    calls: list[str] = []
    stages = [("validate", _recording("validate", calls)), ("publish", _recording("publish", calls))]
    results = run_pipeline(_context(spark, tmp_path), stages=stages, stop_on_failure=False)
    assert calls == ["validate", "publish"]
    assert [r.failed for r in results] == [False, False]
