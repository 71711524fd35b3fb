"""The platform itself: Delta round trips, MERGE idempotence, config loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.config import PipelineConfig, load_config, validate_identifier, with_overrides
from journeylake.io.delta import merge_table, read_table, table_path

pytestmark = pytest.mark.unit

SCHEMA = T.StructType([T.StructField("id", T.LongType(), False), T.StructField("value", T.StringType(), True)])


def test_delta_write_merge_and_read_back(spark: SparkSession, tmp_path: Path) -> None:
    path = table_path(tmp_path, "silver", "things")
    merge_table(spark, spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA), path, keys=["id"])
    merge_table(spark, spark.createDataFrame([(2, "B"), (3, None)], SCHEMA), path, keys=["id"])

    expected = spark.createDataFrame([(1, "a"), (2, "B"), (3, None)], SCHEMA)
    assert_df_equality(
        read_table(spark, path), expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
    )


def test_merge_of_same_rows_writes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    path = table_path(tmp_path, "gold", "things")
    rows = spark.createDataFrame([(1, "a"), (2, None)], SCHEMA)
    first = merge_table(spark, rows, path, keys=["id"])
    again = merge_table(spark, rows, path, keys=["id"])

    assert (first.operation, first.inserted) == ("create", 2)
    assert (again.operation, again.changed, again.version) == ("none", 0, first.version)
    last = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy(F.col("version").desc()).first()
    assert last is not None and last["version"] == first.version  # no commit at all


def test_merge_deletes_keys_that_a_rebuild_removed(spark: SparkSession, tmp_path: Path) -> None:
    path = table_path(tmp_path, "gold", "journeys")
    merge_table(spark, spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA), path, keys=["id"])
    removed = spark.createDataFrame([(2,)], "id long")
    merge_table(spark, spark.createDataFrame([(1, "a2")], SCHEMA), path, keys=["id"], delete_keys=removed)

    assert sorted(tuple(r) for r in read_table(spark, path).collect()) == [(1, "a2")]


def test_merge_into_a_table_with_a_map_column(spark: SparkSession, tmp_path: Path) -> None:
    # meta.runs keeps rows in/out as maps, which <=> cannot compare: a second run's MERGE must still work.
    path = table_path(tmp_path, "meta", "runs")
    schema = "id long, rows map<string, bigint>"
    merge_table(spark, spark.createDataFrame([(1, {"a": 1}), (2, {"b": 2})], schema), path, keys=["id"])
    merge_table(spark, spark.createDataFrame([(2, {"b": 3}), (3, {})], schema), path, keys=["id"])

    rows = {r["id"]: r["rows"] for r in read_table(spark, path).collect()}
    assert rows == {1: {"a": 1}, 2: {"b": 3}, 3: {}}


def test_unknown_layer_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown layer"):
        table_path(tmp_path, "platinum", "x")


def test_default_config_file_matches_dataclass_defaults() -> None:
    # conf/default.toml documents every default; it must not drift from the code.
    assert load_config() == PipelineConfig()


def test_config_rejects_unknown_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[session]\nsession_timeout_minute = 10\n")
    with pytest.raises(ValueError, match="session_timeout_minute"):
        load_config(bad)


def test_config_file_and_overrides(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[session]\nsession_timeout_minutes = 45\n[identity]\nblocked_values = ["x"]\n')
    config = with_overrides(load_config(conf), **{"lake.root": "/tmp/l", "journey.journey_timeout_days": None})
    assert config.session.session_timeout_minutes == 45
    assert config.identity.blocked_values == ("x",)
    assert config.lake.root == "/tmp/l"
    assert config.journey.journey_timeout_days == 14


@pytest.mark.parametrize("name", ["journeylake", "gold_users", "_x1"])
def test_identifier_validation_accepts_plain_names(name: str) -> None:
    assert validate_identifier(name, "dataset") == name


@pytest.mark.parametrize("name", ["", "a-b", "x; DROP TABLE y", "a.b", "1abc", "a`b"])
def test_identifier_validation_rejects_injection(name: str) -> None:
    with pytest.raises(ValueError, match="invalid dataset"):
        validate_identifier(name, "dataset")
