"""Delta Lake reads and writes: the one write path of every table.

Tables live at ``<lake>/<layer>/<table>`` (:func:`journeylake.io.lake.table_uri`; any URI the session's Hadoop
connectors reach). Every write goes through :func:`merge_table`, :func:`overwrite_table` or
:func:`replace_where`, and each of them:

* creates the table on its first write (partitioning, table properties and, for catalog tables, the table
  and column comments of :mod:`journeylake.schemas.catalog`);
* is one Delta commit (a MERGE that deletes, updates and inserts in one statement), so a reader or a killed
  run sees the table before or after the write, never half of it;
* returns the commit's row counts (:class:`WriteMetrics`, from Delta's operation metrics, not from a
  ``count()``), which the stages report and ``meta.runs`` records;
* calls the crash tests' hook :func:`pause_before_write` just before committing.

Writes are idempotent by construction: a MERGE updates a matched row only when a compared column differs
(run bookkeeping columns never count as a difference), so rerunning the same input commits nothing to a MERGE
table. Tables the catalog marks OVERWRITE (derived snapshots: attribution, scores, funnels, RL rows...) are
rewritten whole by every run, with the same contents on a rerun; their metrics count the rows written.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.io.lake import LAYERS, is_local, local_path, table_uri

if TYPE_CHECKING:
    from journeylake.schemas.catalog import TableSpec

__all__ = [
    "LAYERS",
    "RUN_COLUMNS",
    "WriteMetrics",
    "merge_table",
    "overwrite_table",
    "pause_before_write",
    "read_table",
    "read_table_or_empty",
    "replace_where",
    "table_exists",
    "table_path",
]

# Columns that say which run wrote a row, or when: never a reason to rewrite it.
RUN_COLUMNS = ("ingest_run_id", "ingested_at", "updated_run_id")
# MERGE modes.
UPSERT, INSERT, UPDATE, SYNC = "upsert", "insert", "update", "sync"
MERGE_MODES = (UPSERT, INSERT, UPDATE, SYNC)
# The flag column of a MERGE source row that deletes its key (see merge_table's delete_keys).
_DELETE_FLAG = "_jl_delete"
# New tables: deletion vectors, so a MERGE that changes a few rows marks them instead of rewriting their files, and
# a MERGE that changes nothing commits nothing (without them Delta commits a rewrite of every matched file).
# Measured here they cost Spark jobs (a small-table read takes 9 instead of 4): kept for the rerun guarantee.
DEFAULT_TABLE_PROPERTIES = {"delta.enableDeletionVectors": "true"}

# Test-only hook of the crash tests (tests/integration/test_reliability.py): with JOURNEYLAKE_PAUSE_AT=<layer>/<table>
# a process blocks just before it commits a write of that table and prints PAUSE_MARKER, so the test can SIGKILL
# it at a known point. Never set outside those tests; unset, it costs one getenv per write.
PAUSE_ENV = "JOURNEYLAKE_PAUSE_AT"
PAUSE_MARKER = "journeylake-paused-before-write"


def pause_before_write(path: str) -> None:
    """Block forever when ``PAUSE_ENV`` names the table at ``path`` (see above); otherwise return at once."""
    target = os.environ.get(PAUSE_ENV, "").strip("/")
    if target and path.rstrip("/").endswith("/" + target):
        print(f"{PAUSE_MARKER} {target}", flush=True)
        while True:
            time.sleep(60)


def table_path(lake: str | os.PathLike[str], layer: str, table: str) -> str:
    """``<lake>/<layer>/<table>`` (see :func:`journeylake.io.lake.table_uri`)."""
    return table_uri(os.fspath(lake), layer, table)


def table_exists(spark: SparkSession, path: str) -> bool:
    return bool(DeltaTable.isDeltaTable(spark, path))


def read_table(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


def read_table_or_empty(spark: SparkSession, path: str, schema: T.StructType) -> DataFrame:
    """The table, or an empty frame with ``schema`` when it does not exist yet (first run)."""
    if table_exists(spark, path):
        return read_table(spark, path)
    return spark.createDataFrame([], schema)


# ---- metrics ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteMetrics:
    """What one write did, from the Delta commit's operation metrics (all zero when nothing was committed)."""

    operation: str  # create | overwrite | replace | merge | none
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    output_rows: int = 0  # rows written to new files (inserted + updated + copied, or the whole overwrite)
    source_rows: int = 0  # rows of the frame that was written (a MERGE's source, or every row written)
    version: int | None = None  # the table version after the write
    metrics: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


def _latest(spark: SparkSession, path: str) -> tuple[int, str, dict[str, str]]:
    """(version, operation, operationMetrics) of the table's latest commit; read from the log on the driver."""
    row = DeltaTable.forPath(spark, path).history(1).select("version", "operation", "operationMetrics").first()
    if row is None:
        return -1, "", {}
    return int(row["version"]), str(row["operation"]), dict(row["operationMetrics"] or {})


def _metric(metrics: dict[str, str], *names: str) -> int:
    return sum(int(metrics.get(name) or 0) for name in names)


def _metrics_after(spark: SparkSession, path: str, before: int, operation: str) -> WriteMetrics:
    version, _, metrics = _latest(spark, path)
    if version == before:  # Delta commits nothing for a MERGE that changes nothing
        return WriteMetrics("none", version=version)
    if operation == "merge":
        return WriteMetrics(
            operation,
            inserted=_metric(metrics, "numTargetRowsInserted"),
            updated=_metric(metrics, "numTargetRowsUpdated"),
            deleted=_metric(metrics, "numTargetRowsDeleted"),
            output_rows=_metric(metrics, "numOutputRows"),
            source_rows=_metric(metrics, "numSourceRows"),
            version=version,
            metrics=metrics,
        )
    written = _metric(metrics, "numOutputRows")
    return WriteMetrics(
        operation,
        inserted=written,
        deleted=_metric(metrics, "numDeletedRows", "numRemovedRows"),
        output_rows=written,
        source_rows=written,
        version=version,
        metrics=metrics,
    )


# ---- creation ----------------------------------------------------------------------------------------------------


def _create(
    spark: SparkSession,
    path: str,
    schema: T.StructType,
    partition_by: Sequence[str],
    spec: TableSpec | None,
) -> None:
    """Create the empty table: schema (with column comments), partitioning, properties and comment."""
    builder = DeltaTable.createIfNotExists(spark).location(_qualified(path))
    described = spec.described_schema(schema) if spec is not None else schema
    builder = builder.addColumns(
        T.StructType([T.StructField(f.name, _nullable(f.dataType), f.nullable, f.metadata) for f in described.fields])
    )
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in {**DEFAULT_TABLE_PROPERTIES, **(spec.properties if spec is not None else {})}.items():
        builder = builder.property(key, value)
    if spec is not None and spec.description:
        builder = builder.comment(spec.description)
    builder.execute()


def _nullable(data_type: T.DataType) -> T.DataType:
    """``data_type`` with every nested field, element and value nullable: Delta enforces NOT NULL on top-level
    columns only and refuses to create a table that declares it deeper (a plain write silently drops it)."""
    if isinstance(data_type, T.StructType):
        return T.StructType([T.StructField(f.name, _nullable(f.dataType), True, f.metadata) for f in data_type.fields])
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(_nullable(data_type.elementType), True)
    if isinstance(data_type, T.MapType):
        return T.MapType(_nullable(data_type.keyType), _nullable(data_type.valueType), True)
    return data_type


def _qualified(path: str) -> str:
    """An absolute location: SQL and the table builder read a relative path as a table name."""
    return os.path.abspath(local_path(path)) if is_local(path) else path


def _ensure_table(
    spark: SparkSession, df: DataFrame, path: str, partition_by: Sequence[str], spec: TableSpec | None
) -> bool:
    """Create the table when absent, or add the columns ``df`` has and the table lacks; True when created."""
    if not table_exists(spark, path):
        _create(spark, path, df.schema, partition_by, spec)
        return True
    present = set(read_table(spark, path).columns)
    missing = [f for f in df.schema.fields if f.name not in present]
    if missing:
        # A column added to the catalog: existing lakes grow it (null for the rows written before).
        described = spec.described_schema(T.StructType(missing)) if spec is not None else T.StructType(missing)
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" + _comment_sql(f) for f in described.fields)
        spark.sql(f"ALTER TABLE delta.`{_qualified(path)}` ADD COLUMNS ({columns})")
    return False


def _comment_sql(field_: T.StructField) -> str:
    comment = (field_.metadata or {}).get("comment")
    if not comment:
        return ""
    return " COMMENT '" + str(comment).replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---- writes ----------------------------------------------------------------------------------------------------


def overwrite_table(
    df: DataFrame,
    path: str,
    partition_by: Sequence[str] | None = None,
    *,
    spec: TableSpec | None = None,
) -> WriteMetrics:
    """Replace the whole table (small derived tables that are recomputed in full each run)."""
    spark = df.sparkSession
    partitions = list(partition_by if partition_by is not None else (spec.partition_by if spec else ()))
    _ensure_table(spark, df, path, partitions, spec)
    before, _, _ = _latest(spark, path)
    pause_before_write(path)
    writer = df.write.format("delta").mode("overwrite")
    if spec is None:
        # Ad-hoc tables take the frame's schema; catalog tables keep theirs (and their column comments).
        writer = writer.option("overwriteSchema", "true")
    writer.save(path)
    return _metrics_after(spark, path, before, "overwrite")


def replace_where(
    df: DataFrame,
    path: str,
    condition: str,
    partition_by: Sequence[str] | None = None,
    *,
    spec: TableSpec | None = None,
) -> WriteMetrics:
    """Atomically replace the rows matching ``condition`` (a SQL predicate) with ``df``."""
    spark = df.sparkSession
    partitions = list(partition_by if partition_by is not None else (spec.partition_by if spec else ()))
    _ensure_table(spark, df, path, partitions, spec)
    before, _, _ = _latest(spark, path)
    pause_before_write(path)
    df.write.format("delta").mode("overwrite").option("replaceWhere", condition).save(path)
    return _metrics_after(spark, path, before, "replace")


def _comparable(alias: str, field_: T.StructField) -> str:
    """SQL for the column as a value ``<=>`` accepts: maps (meta.runs rows_in) are not comparable, their
    sorted entries are."""
    column = f"{alias}.`{field_.name}`"
    if isinstance(field_.dataType, T.MapType):
        return f"array_sort(map_entries({column}))"
    return column


def merge_table(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Sequence[str],
    *,
    mode: str = UPSERT,
    partition_by: Sequence[str] | None = None,
    delete_keys: DataFrame | None = None,
    target_filter: str | None = None,
    ignore_changes_in: Sequence[str] = RUN_COLUMNS,
    compare_columns: Sequence[str] | None = None,
    spec: TableSpec | None = None,
) -> WriteMetrics:
    """MERGE ``df`` (unique on ``keys``) into the table at ``path`` in one commit; create the table on first write.

    Modes:

    * ``upsert``: insert new keys, update matched rows where a compared column differs;
    * ``insert``: insert new keys only (bronze: the same key is the same source record);
    * ``update``: update matched rows only, never insert (``df`` may hold a subset of the columns: only those
      are set, for example the statuses another stage owns);
    * ``sync``: upsert, and delete the target rows whose key is not in ``df`` (within ``target_filter`` when
      given), so the table, or the filtered part of it, equals ``df``.

    ``delete_keys`` (a frame of ``keys``, disjoint from ``df``'s) lists rows to delete in the same commit, for
    recomputed scopes whose old rows may not come back. ``target_filter`` (SQL over the target, alias ``t``)
    limits the files the MERGE reads and, in ``sync`` mode, what it may delete. Compared columns are
    ``compare_columns`` when given, else every non-key column except ``ignore_changes_in``; a row that differs
    only in an ignored column keeps its stored values.
    """
    if mode not in MERGE_MODES:
        raise ValueError(f"unknown merge mode {mode!r}; expected one of {MERGE_MODES}")
    partitions = list(partition_by if partition_by is not None else (spec.partition_by if spec else ()))
    if mode == UPDATE and not table_exists(spark, path):
        raise FileNotFoundError(f"no Delta table at {path} to update")
    if mode != UPDATE and _ensure_table(spark, df, path, partitions, spec):
        # A new table has nothing to match, update or delete: the rows are appended (one file per partition value,
        # not one per task and value).
        before, _, _ = _latest(spark, path)
        pause_before_write(path)
        (df.repartition(*partitions) if partitions else df).write.format("delta").mode("append").save(path)
        metrics = _metrics_after(spark, path, before, "create")
        return dataclasses.replace(metrics, operation="create")
    before, _, _ = _latest(spark, path)

    columns = df.columns
    fields = {f.name: f for f in df.schema.fields}
    compared = (
        list(compare_columns)
        if compare_columns is not None
        else [c for c in columns if c not in keys and c not in ignore_changes_in]
    )
    changed = " OR ".join(f"NOT ({_comparable('t', fields[c])} <=> {_comparable('s', fields[c])})" for c in compared)

    source = df
    if delete_keys is not None:
        # Deletions ride in the same MERGE: key-only rows flagged for deletion, every other column null.
        doomed = delete_keys.select(
            *[F.col(k) for k in keys],
            *[F.lit(None).cast(fields[c].dataType).alias(c) for c in columns if c not in keys],
            F.lit(True).alias(_DELETE_FLAG),
        )
        source = df.select(*columns, F.lit(False).alias(_DELETE_FLAG)).unionByName(doomed)
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    if target_filter:
        on = f"({target_filter}) AND {on}"
    merge = DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), on)
    if delete_keys is not None:
        merge = merge.whenMatchedDelete(condition=f"s.`{_DELETE_FLAG}`")
    assignments: dict[str, str | Column] = {f"`{c}`": f"s.`{c}`" for c in columns if mode == UPDATE or c not in keys}
    if mode != INSERT and changed:
        merge = merge.whenMatchedUpdate(condition=changed, set=assignments)
    if mode != UPDATE:
        values: dict[str, str | Column] = {f"`{c}`": f"s.`{c}`" for c in columns}
        if delete_keys is not None:
            merge = merge.whenNotMatchedInsert(condition=f"NOT s.`{_DELETE_FLAG}`", values=values)
        else:
            merge = merge.whenNotMatchedInsert(values=values)
    if mode == SYNC:
        merge = merge.whenNotMatchedBySourceDelete(condition=target_filter)
    pause_before_write(path)
    merge.execute()
    return _metrics_after(spark, path, before, "merge")


def write_table(spark: SparkSession, lake: str, name: str, rows: DataFrame, **merge_options: object) -> WriteMetrics:
    """Write ``rows`` to the catalog table ``name`` ("<layer>.<table>") the way the catalog says.

    ``overwrite`` tables (recomputed in full each run) are replaced; ``merge`` tables get one MERGE on their key
    (``merge_options`` go to :func:`merge_table`: mode, delete_keys, target_filter, compare_columns...).
    """
    from journeylake.schemas.catalog import CATALOG, OVERWRITE  # the catalog imports this module's callers

    spec = CATALOG[name]
    path = table_path(lake, spec.layer, spec.name)
    if spec.write == OVERWRITE:
        if merge_options:
            raise ValueError(f"{name} is overwritten in full; merge options {sorted(merge_options)} do not apply")
        return overwrite_table(rows, path, spec=spec)
    return merge_table(spark, rows, path, list(spec.key), spec=spec, **merge_options)  # type: ignore[arg-type]
