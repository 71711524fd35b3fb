"""Contracts of the attribution tables (gold.attribution, gold.channel_history) and their vocabularies.

gold.attribution explains every credit: one row per conversion, touchpoint and model,
key (conversion_id, touchpoint_id, model). Rows with ``included`` true carry the credit;
per conversion and model their ``credit`` sums to 1 and their ``credited_value`` to
``conversion_value``. Excluded rows keep credit 0 and say why in ``reason``.

gold.channel_history aggregates those credits per day (the conversion date), channel and
model, next to touches and cost of that day, key (date, channel, model).
"""

from pyspark.sql import types as T

from journeylake.schemas.columns import column

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
        column(
            "conversion_id",
            T.StringType(),
            False,
            "The converted journey (its journey_id): one conversion per converted journey",
        ),
        column("journey_id", T.StringType(), False, "The converted journey (gold.user_journeys)"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column(
            "conversion_type",
            T.StringType(),
            False,
            "Kind of conversion, purchase today; selects the lookback window",
        ),
        column(
            "conversion_ts",
            T.TimestampType(),
            False,
            "UTC time of the conversion: the journey conversion_ts, else its first conversion touch or last activity",
        ),
        column("conversion_date", T.DateType(), False, "UTC date of conversion_ts"),
        column(
            "conversion_value",
            T.DoubleType(),
            False,
            "Value of the conversion in currency; 0.0 when the journey recorded no value",
        ),
        column(
            "touchpoint_id",
            T.StringType(),
            False,
            "Touch of the journey (gold.journey_touchpoints); (none) on the synthetic no-eligible-touch row",
        ),
        column("touch_ts", T.TimestampType(), True, "UTC time of the touch; null on the synthetic row"),
        column("position", T.IntegerType(), True, "Position of the touch in the journey; null on the synthetic row"),
        column("channel", T.StringType(), False, "Channel of the touch; (none) on the synthetic row"),
        column(
            "model",
            T.StringType(),
            False,
            "Attribution model: first_touch, last_touch, last_non_direct, linear, time_decay, position_based, ...",
        ),
        column(
            "credit",
            T.DoubleType(),
            False,
            "Fraction of the conversion credited to the touch, in [0, 1]; sums to 1 per conversion and model",
        ),
        column("credited_value", T.DoubleType(), False, "credit times conversion_value, in currency"),
        column(
            "included",
            T.BooleanType(),
            False,
            "True when the model credits the touch (data-driven credit may still be 0); false when excluded",
        ),
        column(
            "reason",
            T.StringType(),
            False,
            "included, or why not: outside_lookback, conversion_event, not_first, not_last, direct_excluded, ...",
        ),
    ]
)

CHANNEL_HISTORY_KEYS = ["date", "channel", "model"]

CHANNEL_HISTORY_SCHEMA = T.StructType(
    [
        column(
            "date",
            T.DateType(),
            False,
            "UTC day: the touch date for touches and cost, the conversion date for attributed credit",
        ),
        column("channel", T.StringType(), False, "Channel; (not set) for touches or cost rows without one"),
        column("model", T.StringType(), False, "Attribution model of the attributed columns (see gold.attribution)"),
        column(
            "touches",
            T.LongType(),
            False,
            "Marketing touches of the channel that day (conversion events not counted); same for every model",
        ),
        column(
            "attributed_conversions",
            T.DoubleType(),
            False,
            "Sum of the credits of included rows: conversions attributed to the channel by the model",
        ),
        column(
            "attributed_revenue",
            T.DoubleType(),
            False,
            "Sum of the credited values of included rows, in currency",
        ),
        column(
            "cost",
            T.DoubleType(),
            False,
            "Spend of the channel that day: from bronze.ad_cost_daily when present, else the touch costs",
        ),
        column("roas", T.DoubleType(), True, "attributed_revenue / cost; null when cost is 0"),
        column("cpa", T.DoubleType(), True, "cost / attributed_conversions; null when attributed_conversions is 0"),
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
        column("from_kind", T.StringType(), False, "Kind of the state left: start or channels"),
        column(
            "from_state",
            T.ArrayType(T.StringType(), True),
            False,
            "Last channels of the state left (up to the Markov order); empty for start",
        ),
        column("to_kind", T.StringType(), False, "Kind of the state entered: channels, conversion or null"),
        column(
            "to_state",
            T.ArrayType(T.StringType(), True),
            False,
            "Last channels of the state entered; empty for conversion and null",
        ),
        column("transitions", T.DoubleType(), False, "Number of observed transitions over all paths"),
    ]
)

# Data-driven channel weights handed back to Spark: removal effect (Markov) or Shapley value.
# ``channel_group`` is the channel itself, or the bucket a rare channel was put into for
# Shapley; a conversion's credit is split over the distinct groups on its path.
CHANNEL_WEIGHTS_SCHEMA = T.StructType(
    [
        column("channel", T.StringType(), False, "Channel"),
        column(
            "channel_group",
            T.StringType(),
            False,
            "The channel itself, or the bucket a rare channel was put into for Shapley",
        ),
        column("weight", T.DoubleType(), False, "Removal effect (Markov) or Shapley value of the group"),
    ]
)

# Intermediate: one row per converted journey (conversion_id = journey_id).
CONVERSIONS_SCHEMA = T.StructType(
    [
        column("conversion_id", T.StringType(), False, "The converted journey (its journey_id)"),
        column("journey_id", T.StringType(), False, "The converted journey"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column("conversion_type", T.StringType(), False, "Kind of conversion (purchase); selects the lookback window"),
        column("conversion_ts", T.TimestampType(), False, "UTC time of the conversion"),
        column("conversion_date", T.DateType(), False, "UTC date of conversion_ts"),
        column("conversion_value", T.DoubleType(), False, "Value of the conversion; 0.0 when none was recorded"),
    ]
)

# Intermediate: every touch of a converted journey with its eligibility for credit and
# its order among the eligible touches of that conversion (nulls when not eligible).
LABELLED_TOUCHES_SCHEMA = T.StructType(
    [
        *CONVERSIONS_SCHEMA.fields,
        column("touchpoint_id", T.StringType(), False, "Touch of the converted journey"),
        column("touch_ts", T.TimestampType(), False, "UTC time of the touch"),
        column("position", T.IntegerType(), False, "Position of the touch in the journey"),
        column("channel", T.StringType(), False, "Channel of the touch; (not set) when it has none"),
        column("is_direct", T.BooleanType(), False, "True for a Direct touch"),
        column("age_micros", T.LongType(), False, "conversion_ts minus touch_ts, in microseconds"),
        column(
            "eligible",
            T.BooleanType(),
            False,
            "True when the touch may get credit: a marketing touch within the lookback, not after the conversion",
        ),
        column("exclusion_reason", T.StringType(), False, "Why the touch is not eligible; included when eligible"),
        column("eligible_rank", T.IntegerType(), True, "1 for the first eligible touch; null when not eligible"),
        column("eligible_rank_desc", T.IntegerType(), True, "1 for the last eligible touch; null when not eligible"),
        column("eligible_count", T.IntegerType(), True, "Eligible touches of the conversion; null when not eligible"),
    ]
)

# Conversions per distinct (bucketed) channel set, the only input of simplified Shapley.
CHANNEL_SET_CONVERSIONS_SCHEMA = T.StructType(
    [
        column(
            "channel_set",
            T.ArrayType(T.StringType(), True),
            False,
            "Sorted distinct channel groups (rare channels bucketed) on the eligible path of a conversion",
        ),
        column("conversions", T.DoubleType(), False, "Conversions whose eligible path has exactly this channel set"),
    ]
)
