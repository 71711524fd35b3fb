"""Stage: land the backend tables (users, orders, order_items) in bronze.

The source is PostgreSQL over JDBC when ``[backend].jdbc_url`` is set, else the
generated files (see ``journeylake.io.backend``). Rows with a null id, or orders
with a negative revenue, go to bronze.quarantine with the reason; the rest are
MERGEd on their id, so a rerun changes nothing and an edited order is updated.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from journeylake.io.backend import BACKEND_TABLES, read_backend
from journeylake.io.delta import INSERT, merge_table, table_path
from journeylake.schemas.bronze import BRONZE_QUARANTINE_SCHEMA
from journeylake.schemas.catalog import CATALOG
from journeylake.stages import RunContext, StageResult, timed

NEGATIVE_REVENUE = "negative revenue"
NULL_ID = "null id"


def _rejection(table: str, id_column: str) -> Column:
    """The first rule a backend row breaks, or null when it is accepted."""
    reason = F.when(F.col(id_column).isNull(), F.lit(NULL_ID))
    if table == "orders":
        reason = reason.when(F.col("revenue") < 0, F.lit(NEGATIVE_REVENUE))
    return reason


def split_backend_rows(frame: DataFrame, table: str, id_column: str, run_id: str) -> tuple[DataFrame, DataFrame]:
    """(accepted rows with ingest columns, quarantine rows) for one backend table."""
    tagged = frame.withColumn("_reason", _rejection(table, id_column))
    ingested_at = F.current_timestamp()
    accepted = (
        tagged.where(F.col("_reason").isNull())
        .drop("_reason")
        .withColumn("ingest_run_id", F.lit(run_id))
        .withColumn("ingested_at", ingested_at)
    )
    quarantined = tagged.where(F.col("_reason").isNotNull()).select(
        F.lit(f"backend.{table}").alias("source"),
        F.col(id_column).cast("string").alias("record_id"),
        F.to_json(F.struct(*[F.col(c) for c in frame.columns])).alias("raw_record"),
        F.col("_reason").alias("reason"),
        F.lit(None).cast("date").alias("event_date"),
        F.lit(run_id).alias("ingest_run_id"),
        ingested_at.alias("ingested_at"),
    )
    return accepted, quarantined


def land_backend(context: RunContext) -> StageResult:
    result = StageResult(stage="backend")
    with timed(result):
        spark, config = context.spark, context.config
        if config.input.ga4_dir and not config.backend.jdbc_url:
            # A GA4 export run: the generated sample's backend files belong to another world.
            result.message = "no backend configured for this GA4 export (set [backend].jdbc_url)"
            return result
        frames = read_backend(spark, config.backend, config.input.sample_dir)
        if not frames:
            result.details["backend"] = "no backend source configured or generated"
            return result
        result.details["source"] = "jdbc" if config.backend.jdbc_url else "files"
        rejected: DataFrame | None = None
        for table in BACKEND_TABLES:
            if table.name not in frames:
                continue
            # Materialized: the frame is split into accepted and quarantined; read the source once.
            source = frames[table.name].localCheckpoint()
            accepted, quarantined = split_backend_rows(source, table.name, table.id_column, context.run_id)
            landed = merge_table(
                spark,
                accepted,
                table_path(context.lake, "bronze", f"backend_{table.name}"),
                [table.id_column],
                spec=CATALOG[f"bronze.backend_{table.name}"],
            )
            quarantined = quarantined.select(*[f.name for f in BRONZE_QUARANTINE_SCHEMA.fields])
            rejected = quarantined if rejected is None else rejected.unionByName(quarantined)
            # Counted on the materialized frame (a MERGE that changes nothing commits no metrics).
            result.rows_in[f"backend.{table.name}"] = source.count()
            result.rows_out[f"bronze.backend_{table.name}"] = landed.changed
        if rejected is not None:  # one insert-only write for the three tables' rejected rows
            written = merge_table(
                spark,
                rejected,
                table_path(context.lake, "bronze", "quarantine"),
                ["source", "record_id", "reason"],
                mode=INSERT,
                spec=CATALOG["bronze.quarantine"],
            )
            result.rows_out["bronze.quarantine"] = written.inserted
    return result
