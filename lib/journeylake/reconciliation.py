"""Reconcile GA4 purchases with backend orders.

The two never agree exactly: GA4 misses purchases (ad blockers, consent, tag
failures), records some twice (page reloads), and the shop's revenue differs
(tax, shipping, currency rounding, later edits). Each transaction id from
either side gets one row with a match status:

- ``missing_in_backend``: GA4 saw a purchase the backend has no order for;
- ``missing_in_ga4``: an order GA4 never saw (no linked transaction id, or an id GA4 lacks);
- ``duplicate_in_ga4``: both sides have it, and GA4 logged the purchase more than once;
- ``revenue_mismatch``: both sides, once, with revenues further apart than ``REVENUE_TOLERANCE``;
- ``matched``: both sides, once, same revenue.

Statuses are tested in that order, so each row has exactly one.
``revenue_delta = ga4_revenue - backend_revenue`` with a missing side counted as 0.
GA4 revenue of a duplicated transaction is that of its first purchase event: the
repeats are the same purchase, not extra money.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window as W

from journeylake.placeholders import is_placeholder
from journeylake.schemas.columns import column

MATCHED = "matched"
REVENUE_MISMATCH = "revenue_mismatch"
MISSING_IN_GA4 = "missing_in_ga4"
MISSING_IN_BACKEND = "missing_in_backend"
DUPLICATE_IN_GA4 = "duplicate_in_ga4"
MATCH_STATUSES = (MATCHED, REVENUE_MISMATCH, MISSING_IN_GA4, MISSING_IN_BACKEND, DUPLICATE_IN_GA4)

# Differences below one cent are rounding, not a mismatch.
REVENUE_TOLERANCE = 0.01
UNKNOWN_CHANNEL = "(unknown)"
# Orders without a GA4 transaction id still need a row key that cannot collide with a GA4 id.
BACKEND_ONLY_PREFIX = "backend-order:"

RECONCILIATION_SCHEMA = T.StructType(
    [
        column(
            "transaction_id",
            T.StringType(),
            False,
            "GA4 transaction id; backend-order:<order_id> for an order without a usable GA4 transaction id",
        ),
        column(
            "reconciliation_date",
            T.DateType(),
            False,
            "UTC date of the first GA4 purchase event, else of the backend order",
        ),
        column(
            "match_status",
            T.StringType(),
            False,
            "missing_in_backend, missing_in_ga4, duplicate_in_ga4, revenue_mismatch or matched (tested in that order)",
        ),
        column(
            "ga4_revenue",
            T.DoubleType(),
            True,
            "Revenue of the first GA4 purchase event of the transaction; null when GA4 has none",
        ),
        column("backend_revenue", T.DoubleType(), True, "Revenue of the backend order; null when there is no order"),
        column(
            "revenue_delta",
            T.DoubleType(),
            False,
            "ga4_revenue - backend_revenue, a missing side counted as 0",
        ),
        column(
            "ga4_purchase_events",
            T.IntegerType(),
            False,
            "GA4 purchase events with this transaction id (more than 1: duplicated); 0 when GA4 has none",
        ),
        column("ga4_event_ts", T.TimestampType(), True, "UTC time of the first GA4 purchase event; null when none"),
        column(
            "ga4_user_pseudo_id",
            T.StringType(),
            True,
            "Device id of the first GA4 purchase event; null when GA4 has none",
        ),
        column(
            "channel",
            T.StringType(),
            False,
            "Channel of the first GA4 purchase event; (unknown) when GA4 has none or it has no channel",
        ),
        column("order_id", T.LongType(), True, "Backend order id; null when the backend has no order"),
        column(
            "order_status",
            T.StringType(),
            True,
            "Backend order status: paid, refunded or cancelled; null when there is no order",
        ),
        column("order_ts", T.TimestampType(), True, "UTC time of the backend order; null when there is none"),
        column("backend_user_id", T.LongType(), True, "Backend user id of the buyer; null when there is no order"),
        column(
            "canonical_user_id",
            T.LongType(),
            True,
            "Person of the GA4 purchasing device; null for backend-only orders or unknown devices",
        ),
    ]
)

RECONCILIATION_SUMMARY_SCHEMA = T.StructType(
    [
        column("reconciliation_date", T.DateType(), False, "Day of the transactions (see gold.reconciliation)"),
        column("channel", T.StringType(), False, "Channel of the transactions; (unknown) when not known from GA4"),
        column("transactions", T.LongType(), False, "Transactions of the day and channel"),
        *[column(status, T.LongType(), False, f"Transactions with match_status {status}") for status in MATCH_STATUSES],
        column("match_rate", T.DoubleType(), False, "matched / transactions"),
        column("ga4_revenue", T.DoubleType(), False, "Sum of ga4_revenue, missing counted as 0"),
        column("backend_revenue", T.DoubleType(), False, "Sum of backend_revenue, missing counted as 0"),
        column("revenue_delta", T.DoubleType(), False, "Sum of revenue_delta: GA4 minus backend revenue"),
    ]
)


def is_usable_transaction_id(column: Column) -> Column:
    """True for a real transaction id: not null, not blank, not an export placeholder."""
    return ~is_placeholder(column)


def ga4_transactions(events: DataFrame) -> DataFrame:
    """One row per GA4 transaction id from purchase events.

    Needs: event_name, transaction_id, revenue, event_ts, event_id, user_pseudo_id, channel.
    Returns: transaction_id, ga4_revenue, ga4_purchase_events, ga4_event_ts,
    ga4_user_pseudo_id, ga4_channel. Purchases without a usable id are not
    here: count them with :func:`unmatchable_purchases`.
    """
    purchases = events.where((F.col("event_name") == "purchase") & is_usable_transaction_id(F.col("transaction_id")))
    first_first = W.partitionBy("transaction_id").orderBy(F.col("event_ts").asc(), F.col("event_id").asc())
    return (
        purchases.withColumn("purchase_rank", F.row_number().over(first_first))
        .groupBy("transaction_id")
        .agg(
            F.count(F.lit(1)).cast("int").alias("ga4_purchase_events"),
            F.max(F.when(F.col("purchase_rank") == 1, F.col("revenue"))).alias("ga4_revenue"),
            F.min("event_ts").alias("ga4_event_ts"),
            F.max(F.when(F.col("purchase_rank") == 1, F.col("user_pseudo_id"))).alias("ga4_user_pseudo_id"),
            F.max(F.when(F.col("purchase_rank") == 1, F.col("channel"))).alias("ga4_channel"),
        )
    )


def unmatchable_purchases(events: DataFrame) -> DataFrame:
    """GA4 purchase events whose transaction id is missing or a placeholder (reported, never matched)."""
    return events.where((F.col("event_name") == "purchase") & ~is_usable_transaction_id(F.col("transaction_id")))


def backend_transactions(orders: DataFrame) -> DataFrame:
    """One row per backend order keyed by its GA4 transaction id (or a backend-only key).

    Needs: order_id, user_id, ga_transaction_id, order_ts, status, revenue.
    Two orders claiming one GA4 transaction id would make the match ambiguous:
    the stage checks :func:`duplicate_backend_transactions` first and fails
    loudly, since that is a backend data error to fix, not to average away.
    """
    keyed = orders.withColumn(
        "transaction_id",
        F.when(is_usable_transaction_id(F.col("ga_transaction_id")), F.trim(F.col("ga_transaction_id"))).otherwise(
            F.concat(F.lit(BACKEND_ONLY_PREFIX), F.col("order_id").cast("string"))
        ),
    )
    return keyed.select(
        "transaction_id",
        F.col("order_id"),
        F.col("user_id").alias("backend_user_id"),
        F.col("order_ts"),
        F.col("status").alias("order_status"),
        F.col("revenue").alias("backend_revenue"),
    )


def duplicate_backend_transactions(backend: DataFrame) -> DataFrame:
    """Transaction ids claimed by more than one backend order (must be empty to reconcile)."""
    return backend.groupBy("transaction_id").agg(F.count(F.lit(1)).alias("orders")).where(F.col("orders") > 1)


def match_status(ga4_present: Column, backend_present: Column, purchase_events: Column, delta: Column) -> Column:
    return (
        F.when(~backend_present, F.lit(MISSING_IN_BACKEND))
        .when(~ga4_present, F.lit(MISSING_IN_GA4))
        .when(purchase_events > 1, F.lit(DUPLICATE_IN_GA4))
        .when(F.abs(delta) >= F.lit(REVENUE_TOLERANCE), F.lit(REVENUE_MISMATCH))
        .otherwise(F.lit(MATCHED))
    )


def reconcile(ga4: DataFrame, backend: DataFrame, canonical_users: DataFrame) -> DataFrame:
    """Full outer match of :func:`ga4_transactions` and :func:`backend_transactions` on transaction_id.

    ``canonical_users`` maps devices to people: (user_pseudo_id, canonical_user_id),
    one row per device. The canonical user of a row is the GA4 purchaser's; for
    backend-only orders it stays null (the identity graph links backend users through
    their GA4 logins and transactions, so an order GA4 never saw has no such link).
    Returns RECONCILIATION_SCHEMA columns.
    """
    joined = ga4.join(backend, on="transaction_id", how="full_outer").join(
        canonical_users.withColumnRenamed("user_pseudo_id", "ga4_user_pseudo_id"),
        on="ga4_user_pseudo_id",
        how="left",
    )
    ga4_present = F.col("ga4_purchase_events").isNotNull()
    backend_present = F.col("order_id").isNotNull()
    delta = F.coalesce(F.col("ga4_revenue"), F.lit(0.0)) - F.coalesce(F.col("backend_revenue"), F.lit(0.0))
    return joined.select(
        F.col("transaction_id"),
        F.to_date(F.coalesce(F.col("ga4_event_ts"), F.col("order_ts"))).alias("reconciliation_date"),
        match_status(ga4_present, backend_present, F.col("ga4_purchase_events"), delta).alias("match_status"),
        F.col("ga4_revenue"),
        F.col("backend_revenue"),
        F.round(delta, 6).alias("revenue_delta"),
        F.coalesce(F.col("ga4_purchase_events"), F.lit(0)).cast("int").alias("ga4_purchase_events"),
        F.col("ga4_event_ts"),
        F.col("ga4_user_pseudo_id"),
        F.coalesce(F.col("ga4_channel"), F.lit(UNKNOWN_CHANNEL)).alias("channel"),
        F.col("order_id"),
        F.col("order_status"),
        F.col("order_ts"),
        F.col("backend_user_id"),
        F.col("canonical_user_id"),
    )


def reconciliation_summary(reconciliation: DataFrame) -> DataFrame:
    """Counts, match rate and revenue per day and channel. Returns RECONCILIATION_SUMMARY_SCHEMA columns."""
    status_counts = [
        F.sum(F.when(F.col("match_status") == status, 1).otherwise(0)).cast("long").alias(status)
        for status in MATCH_STATUSES
    ]
    return (
        reconciliation.groupBy("reconciliation_date", "channel")
        .agg(
            F.count(F.lit(1)).alias("transactions"),
            *status_counts,
            F.round(F.sum(F.coalesce(F.col("ga4_revenue"), F.lit(0.0))), 6).alias("ga4_revenue"),
            F.round(F.sum(F.coalesce(F.col("backend_revenue"), F.lit(0.0))), 6).alias("backend_revenue"),
            F.round(F.sum("revenue_delta"), 6).alias("revenue_delta"),
        )
        .withColumn("match_rate", F.col(MATCHED) / F.col("transactions"))
        .select(*[f.name for f in RECONCILIATION_SUMMARY_SCHEMA.fields])
    )
