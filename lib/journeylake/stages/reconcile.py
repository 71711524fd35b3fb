"""Stage: reconcile GA4 purchases in bronze.events with the backend orders in bronze.backend_orders."""

from __future__ import annotations

from pyspark.sql import functions as F

from journeylake.io.delta import read_table, table_exists, table_path, write_table
from journeylake.reconciliation import (
    MATCH_STATUSES,
    MATCHED,
    RECONCILIATION_SCHEMA,
    backend_transactions,
    duplicate_backend_transactions,
    ga4_transactions,
    reconcile,
    reconciliation_summary,
    unmatchable_purchases,
)
from journeylake.schemas.sources import BACKEND_ORDERS_SCHEMA
from journeylake.stages import RunContext, StageResult, timed

DUPLICATE_SAMPLE_SIZE = 5


class BackendDataError(RuntimeError):
    """The backend data cannot be reconciled as it is."""


def run(context: RunContext) -> StageResult:
    result = StageResult(stage="reconcile")
    with timed(result):
        spark, lake = context.spark, context.lake
        events_path = table_path(lake, "bronze", "events")
        orders_path = table_path(lake, "bronze", "backend_orders")
        if not table_exists(spark, events_path):
            raise BackendDataError(f"bronze.events not found at {events_path}: run ingestion first")
        events = read_table(spark, events_path)
        if table_exists(spark, orders_path):
            orders = read_table(spark, orders_path).select(*[f.name for f in BACKEND_ORDERS_SCHEMA.fields])
        else:
            # A GA4-only run (no backend source): every GA4 purchase is reported as missing in the backend.
            orders = spark.createDataFrame([], BACKEND_ORDERS_SCHEMA)
            result.details["backend"] = "absent: every GA4 transaction is missing_in_backend"

        backend = backend_transactions(orders)
        # Bounded: at most DUPLICATE_SAMPLE_SIZE rows reach the driver, for the error message.
        duplicates = duplicate_backend_transactions(backend).orderBy("transaction_id").limit(DUPLICATE_SAMPLE_SIZE)
        sample = [row["transaction_id"] for row in duplicates.collect()]
        if sample:
            raise BackendDataError(f"backend orders share GA4 transaction ids (e.g. {', '.join(sample)}); fix them")

        map_path = table_path(lake, "silver", "identity_map")
        if table_exists(spark, map_path):
            devices = (
                read_table(spark, map_path)
                .where(F.col("id_type") == "device")
                .select(F.col("id_value").alias("user_pseudo_id"), "canonical_user_id")
            )
        else:
            devices = spark.createDataFrame([], "user_pseudo_id string, canonical_user_id long")

        reconciled = (
            reconcile(ga4_transactions(events), backend, devices)
            .select(*[f.name for f in RECONCILIATION_SCHEMA.fields])
            .localCheckpoint()
        )
        written = {
            "gold.reconciliation": write_table(spark, lake, "gold.reconciliation", reconciled),
            "gold.reconciliation_summary": write_table(
                spark, lake, "gold.reconciliation_summary", reconciliation_summary(reconciled)
            ),
        }

        totals = reconciled.agg(
            F.count(F.lit(1)).alias("transactions"),
            *[F.sum(F.when(F.col("match_status") == s, 1).otherwise(0)).alias(s) for s in MATCH_STATUSES],
            F.sum("revenue_delta").alias("revenue_delta"),
            F.sum(F.coalesce(F.col("backend_revenue"), F.lit(0.0))).alias("backend_revenue"),
        ).first()
        assert totals is not None  # an aggregate without grouping always returns one row
        transactions = int(totals["transactions"])
        result.rows_out = {name: metrics.changed for name, metrics in written.items()}
        result.details.update({status: int(totals[status] or 0) for status in MATCH_STATUSES})
        result.details["match_rate"] = round(int(totals[MATCHED] or 0) / transactions, 4) if transactions else None
        result.details["revenue_delta"] = round(float(totals["revenue_delta"] or 0.0), 2)
        result.details["backend_revenue"] = round(float(totals["backend_revenue"] or 0.0), 2)
        result.details["unmatchable_ga4_purchases"] = unmatchable_purchases(events).count()
        result.message = (
            f"match rate {result.details['match_rate']}, revenue delta {result.details['revenue_delta']} "
            f"over {transactions} transactions"
        )
    return result
