"""Contracts of the run report's chart data (journeylake.report).

Each is a bounded aggregate: its row count is fixed by a vocabulary or a bucket list (states x statuses,
channels x models, reasons, histogram buckets, stages of one run), never by the number of events or journeys,
so the report may collect it to the driver to draw.
"""

from pyspark.sql import types as T

# Journeys whose current state (and every transition target) is outside STATES: reported, never dropped.
UNKNOWN_STATE = "(unknown state)"
UNKNOWN_STATE_RANK = -1

# Histogram buckets beyond the regular ones: values below the first edge (bad data) and nulls.
BELOW_RANGE_BUCKET = "below range (invalid)"
MISSING_BUCKET = "(missing)"

BUCKETS_SCHEMA = T.StructType(
    [
        T.StructField("bucket_order", T.IntegerType(), False),
        T.StructField("bucket", T.StringType(), False),
    ]
)

HISTOGRAM_SCHEMA = T.StructType(
    [
        T.StructField("measure", T.StringType(), False),  # what was bucketed, e.g. journey_days
        T.StructField("bucket_order", T.IntegerType(), False),  # regular buckets 0..n-1, then below range, missing
        T.StructField("bucket", T.StringType(), False),
        T.StructField("count", T.LongType(), False),
    ]
)

STATES_SCHEMA = T.StructType(
    [
        T.StructField("state", T.StringType(), False),
        T.StructField("state_rank", T.IntegerType(), False),
    ]
)

FUNNEL_SCHEMA = T.StructType(
    [
        T.StructField("state", T.StringType(), False),  # a journey state, or UNKNOWN_STATE
        T.StructField("state_rank", T.IntegerType(), False),  # UNKNOWN_STATE_RANK for UNKNOWN_STATE
        T.StructField("status", T.StringType(), False),
        T.StructField("journeys", T.LongType(), False),  # journeys of this status that reached at least the state
    ]
)

ATTRIBUTION_BY_CHANNEL_SCHEMA = T.StructType(
    [
        T.StructField("channel", T.StringType(), False),
        T.StructField("model", T.StringType(), False),
        T.StructField("credited_conversions", T.DoubleType(), False),  # sum of credit of included rows
        T.StructField("credited_value", T.DoubleType(), False),
    ]
)

ABANDONMENT_BY_REASON_SCHEMA = T.StructType(
    [
        T.StructField("reason", T.StringType(), False),
        T.StructField("journeys", T.LongType(), False),
        T.StructField("penalty_amount", T.DoubleType(), False),
        T.StructField("opportunity_cost", T.DoubleType(), False),
        T.StructField("spend", T.DoubleType(), False),
    ]
)

RUN_STAGES_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("as_of", T.TimestampType(), False),
        T.StructField("stage", T.StringType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("rows_in", T.LongType(), False),  # summed over the stage's input tables
        T.StructField("rows_out", T.LongType(), False),
        T.StructField("message", T.StringType(), True),
        T.StructField("details_json", T.StringType(), False),
        T.StructField("recorded_at", T.TimestampType(), False),
    ]
)
