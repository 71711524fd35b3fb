"""Contracts of the attribution tables (gold.attribution, gold.channel_history) and their vocabularies.

gold.attribution explains every credit: one row per conversion, touchpoint and model,
key (conversion_id, touchpoint_id, model). Rows with ``included`` true carry the credit;
per conversion and model their ``credit`` sums to 1 and their ``credited_value`` to
``conversion_value``. Excluded rows keep credit 0 and say why in ``reason``.

gold.channel_history aggregates those credits per day (the conversion date), channel and
model, next to touches and cost of that day, key (date, channel, model).
"""

from pyspark.sql import types as T

# Models, in the order they are reported.
FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
LAST_NON_DIRECT = "last_non_direct"
LINEAR = "linear"
TIME_DECAY = "time_decay"
POSITION_BASED = "position_based"
MARKOV = "markov"
SHAPLEY = "shapley"
MODELS = (FIRST_TOUCH, LAST_TOUCH, LAST_NON_DIRECT, LINEAR, TIME_DECAY, POSITION_BASED, MARKOV, SHAPLEY)

# Why a row has (or has not) credit. A touch outside the lookback window, the conversion
# event itself and touches recorded after the conversion are excluded from every model;
# the model-specific reasons say which rule of that model passed the touch over.
REASON_INCLUDED = "included"  # eligible and credited by the model (data-driven credit may still be 0)
REASON_OUTSIDE_LOOKBACK = "outside_lookback"  # older than the lookback window before the conversion
REASON_CONVERSION_EVENT = "conversion_event"  # the conversion itself is not a marketing touch
REASON_AFTER_CONVERSION = "after_conversion"  # recorded after the conversion time (bad ordering upstream)
REASON_NOT_FIRST = "not_first"  # first touch: an eligible touch that is not the first
REASON_NOT_LAST = "not_last"  # last touch / last non-direct: an eligible touch that is not the credited last
REASON_DIRECT_EXCLUDED = "direct_excluded"  # last non-direct: a Direct touch on a path with a non-Direct touch
REASON_NO_ELIGIBLE_TOUCH = "no_eligible_touch"  # synthetic row: the conversion had no eligible touch
REASONS = (
    REASON_INCLUDED,
    REASON_OUTSIDE_LOOKBACK,
    REASON_CONVERSION_EVENT,
    REASON_AFTER_CONVERSION,
    REASON_NOT_FIRST,
    REASON_NOT_LAST,
    REASON_DIRECT_EXCLUDED,
    REASON_NO_ELIGIBLE_TOUCH,
)

# A conversion without any eligible touch gets one synthetic row per model with this
# touchpoint id and channel, credit 1 and reason no_eligible_touch, so that credits of
# every conversion still sum to 1 and its value is never silently lost.
NO_TOUCH_ID = "(none)"
NO_TOUCH_CHANNEL = "(none)"

ATTRIBUTION_KEYS = ["conversion_id", "touchpoint_id", "model"]

ATTRIBUTION_SCHEMA = T.StructType(
    [
        T.StructField("conversion_id", T.StringType(), False),  # the journey_id: one conversion per journey
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("conversion_type", T.StringType(), False),  # purchase (selects the lookback window)
        T.StructField("conversion_ts", T.TimestampType(), False),
        T.StructField("conversion_date", T.DateType(), False),
        T.StructField("conversion_value", T.DoubleType(), False),  # 0.0 when the journey recorded no value
        T.StructField("touchpoint_id", T.StringType(), False),  # NO_TOUCH_ID on the synthetic row
        T.StructField("touch_ts", T.TimestampType(), True),  # null on the synthetic row
        T.StructField("position", T.IntegerType(), True),  # position in the journey; null on the synthetic row
        T.StructField("channel", T.StringType(), False),
        T.StructField("model", T.StringType(), False),  # one of MODELS
        T.StructField("credit", T.DoubleType(), False),  # fraction of the conversion in [0, 1]
        T.StructField("credited_value", T.DoubleType(), False),  # credit * conversion_value
        T.StructField("included", T.BooleanType(), False),
        T.StructField("reason", T.StringType(), False),  # one of REASONS
    ]
)

CHANNEL_HISTORY_KEYS = ["date", "channel", "model"]

CHANNEL_HISTORY_SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType(), False),  # touch date for touches and cost, conversion date for credit
        T.StructField("channel", T.StringType(), False),
        T.StructField("model", T.StringType(), False),
        T.StructField("touches", T.LongType(), False),  # marketing touches (conversion events not counted)
        T.StructField("attributed_conversions", T.DoubleType(), False),
        T.StructField("attributed_revenue", T.DoubleType(), False),
        T.StructField("cost", T.DoubleType(), False),
        T.StructField("roas", T.DoubleType(), True),  # revenue / cost; null when cost is 0
        T.StructField("cpa", T.DoubleType(), True),  # cost / conversions; null when conversions are 0
    ]
)

# Markov transition counts aggregated in Spark and collected to the driver (bounded by
# the number of states squared). A state is the tuple of the last ``order`` channels.
STATE_KIND_START = "start"
STATE_KIND_CHANNELS = "channels"
STATE_KIND_CONVERSION = "conversion"
STATE_KIND_NULL = "null"

MARKOV_TRANSITIONS_SCHEMA = T.StructType(
    [
        T.StructField("from_kind", T.StringType(), False),  # start | channels
        T.StructField("from_state", T.ArrayType(T.StringType(), True), False),  # empty for start
        T.StructField("to_kind", T.StringType(), False),  # channels | conversion | null
        T.StructField("to_state", T.ArrayType(T.StringType(), True), False),  # empty for conversion and null
        T.StructField("transitions", T.DoubleType(), False),
    ]
)

# Data-driven channel weights handed back to Spark: removal effect (Markov) or Shapley value.
# ``channel_group`` is the channel itself, or the bucket a rare channel was put into for
# Shapley; a conversion's credit is split over the distinct groups on its path.
CHANNEL_WEIGHTS_SCHEMA = T.StructType(
    [
        T.StructField("channel", T.StringType(), False),
        T.StructField("channel_group", T.StringType(), False),
        T.StructField("weight", T.DoubleType(), False),
    ]
)

# Intermediate: one row per converted journey (conversion_id = journey_id).
CONVERSIONS_SCHEMA = T.StructType(
    [
        T.StructField("conversion_id", T.StringType(), False),
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("conversion_type", T.StringType(), False),
        T.StructField("conversion_ts", T.TimestampType(), False),
        T.StructField("conversion_date", T.DateType(), False),
        T.StructField("conversion_value", T.DoubleType(), False),
    ]
)

# Intermediate: every touch of a converted journey with its eligibility for credit and
# its order among the eligible touches of that conversion (nulls when not eligible).
LABELLED_TOUCHES_SCHEMA = T.StructType(
    [
        *CONVERSIONS_SCHEMA.fields,
        T.StructField("touchpoint_id", T.StringType(), False),
        T.StructField("touch_ts", T.TimestampType(), False),
        T.StructField("position", T.IntegerType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("is_direct", T.BooleanType(), False),
        T.StructField("age_micros", T.LongType(), False),  # conversion_ts - touch_ts
        T.StructField("eligible", T.BooleanType(), False),
        T.StructField("exclusion_reason", T.StringType(), False),  # REASON_INCLUDED when eligible
        T.StructField("eligible_rank", T.IntegerType(), True),  # 1 = first eligible touch
        T.StructField("eligible_rank_desc", T.IntegerType(), True),  # 1 = last eligible touch
        T.StructField("eligible_count", T.IntegerType(), True),
    ]
)

# Conversions per distinct (bucketed) channel set, the only input of simplified Shapley.
CHANNEL_SET_CONVERSIONS_SCHEMA = T.StructType(
    [
        T.StructField("channel_set", T.ArrayType(T.StringType(), True), False),  # sorted, distinct
        T.StructField("conversions", T.DoubleType(), False),
    ]
)
