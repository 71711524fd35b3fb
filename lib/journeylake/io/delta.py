"""Delta Lake reads and writes: the only module that knows lake paths and Delta APIs.

Tables live at ``<lake>/<layer>/<table>``. Writes are idempotent by construction:
either a MERGE on the table's key (rows that did not change are not rewritten),
or a replace of exactly the partitions or keys a run recomputed.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

LAYERS = ("bronze", "silver", "gold", "meta")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")

# Test-only hook of the crash tests (tests/integration/test_reliability.py): with JOURNEYLAKE_PAUSE_AT=<layer>/<table>
# a process blocks just before it writes that table (after a MERGE's stale-row delete) and prints PAUSE_MARKER, so
# the test can SIGKILL it at a known point. Never set outside those tests; unset, it costs one getenv per write.
PAUSE_ENV = "JOURNEYLAKE_PAUSE_AT"
PAUSE_MARKER = "journeylake-paused-before-write"


def pause_before_write(path: str) -> None:
    """Block forever when ``PAUSE_ENV`` names the table at ``path`` (see above); otherwise return at once."""
    target = os.environ.get(PAUSE_ENV, "").strip("/")
    if target and Path(path).as_posix().endswith("/" + target):
        print(f"{PAUSE_MARKER} {target}", flush=True)
        while True:
            time.sleep(60)


def table_path(lake: str | Path, layer: str, table: str) -> str:
    """``<lake>/<layer>/<table>``; the names are checked, so a configured name cannot point outside the lake."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    if not _TABLE_NAME.match(table):
        raise ValueError(f"invalid table name {table!r}: lower-case letters, digits and underscores only")
    return str(Path(lake) / layer / table)


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def read_table(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


def read_table_or_empty(spark: SparkSession, path: str, schema: T.StructType) -> DataFrame:
    """The table, or an empty frame with ``schema`` when it does not exist yet (first run)."""
    if table_exists(spark, path):
        return read_table(spark, path)
    return spark.createDataFrame([], schema)


def overwrite_table(df: DataFrame, path: str, partition_by: list[str] | None = None) -> None:
    """Replace the whole table (small derived tables that are recomputed in full each run)."""
    pause_before_write(path)
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def merge_table(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: list[str],
    partition_by: list[str] | None = None,
    delete_keys: DataFrame | None = None,
    ignore_changes_in: tuple[str, ...] = ("ingest_run_id", "ingested_at", "updated_run_id"),
) -> None:
    """Upsert ``df`` into the table at ``path`` on ``keys``; create the table on first write.

    Rows are updated only when some column differs, so a rerun of the same input
    rewrites nothing. ``delete_keys`` (a frame of ``keys``) lists rows to remove
    first, for recomputed scopes whose old rows may not come back (for example
    journeys rebuilt under a surviving canonical id). Columns in
    ``ignore_changes_in`` (run bookkeeping) do not count as a change: a row that
    differs only there keeps its old values, so a rerun leaves the table as it was.
    """
    if not table_exists(spark, path):
        pause_before_write(path)
        writer = df.write.format("delta").mode("overwrite")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(path)
        return
    target = DeltaTable.forPath(spark, path)
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    if delete_keys is not None:
        target.alias("t").merge(delete_keys.alias("s"), on).whenMatchedDelete().execute()
    pause_before_write(path)
    compared = [f for f in df.schema.fields if f.name not in keys and f.name not in ignore_changes_in]
    changed = " OR ".join(f"NOT ({_comparable('t', f)} <=> {_comparable('s', f)})" for f in compared)
    merge = target.alias("t").merge(df.alias("s"), on)
    if changed:
        merge = merge.whenMatchedUpdateAll(condition=changed)
    merge.whenNotMatchedInsertAll().execute()


def _comparable(alias: str, field: T.StructField) -> str:
    """SQL for the column as a value ``<=>`` accepts: maps (meta.runs rows_in) are not comparable, their
    sorted entries are."""
    column = f"{alias}.`{field.name}`"
    if isinstance(field.dataType, T.MapType):
        return f"array_sort(map_entries({column}))"
    return column


def replace_where(df: DataFrame, path: str, condition: str, partition_by: list[str] | None = None) -> None:
    """Atomically replace the rows matching ``condition`` (a SQL predicate) with ``df``."""
    pause_before_write(path)
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", condition)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)
