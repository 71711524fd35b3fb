"""Schemas of the non-GA4 input sources, as they arrive (files or JDBC tables).

Each source is read with its schema here; the bronze tables add ingest columns
(see ``journeylake.schemas.bronze``). Timestamps are UTC. Money is DOUBLE in the
source files (what ad platforms and the backend export), DECIMAL never appears
in inputs.
"""

from pyspark.sql import types as T

# One ad-platform touch: an impression or a click. ``user_pseudo_id`` is set when
# the ad platform could attribute the touch to a site cookie; clicks carry a
# ``gclid`` that GA4 also records on the landing page_view.
AD_TOUCHPOINTS_SCHEMA = T.StructType(
    [
        T.StructField("touch_id", T.StringType(), True),
        T.StructField("touch_ts", T.TimestampType(), True),
        T.StructField("interaction", T.StringType(), True),  # impression | click
        T.StructField("channel", T.StringType(), True),  # Paid Search, Display, Paid Social, ...
        T.StructField("source", T.StringType(), True),
        T.StructField("medium", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("user_pseudo_id", T.StringType(), True),
        T.StructField("gclid", T.StringType(), True),
        T.StructField("cost", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
    ]
)

# Spend per day, channel and campaign, with the campaign's daily budget so that
# budget exhaustion can be detected (spend >= budget).
AD_COST_DAILY_SCHEMA = T.StructType(
    [
        T.StructField("cost_date", T.DateType(), True),
        T.StructField("channel", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("cost", T.DoubleType(), True),
        T.StructField("daily_budget", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
    ]
)

# A person's device seen exposed to a competitor's ad or site (panel/DSP data).
COMPETITOR_EXPOSURES_SCHEMA = T.StructType(
    [
        T.StructField("exposure_id", T.StringType(), True),
        T.StructField("exposure_ts", T.TimestampType(), True),
        T.StructField("competitor", T.StringType(), True),
        T.StructField("channel", T.StringType(), True),
        T.StructField("user_pseudo_id", T.StringType(), True),
    ]
)

# Backend (PostgreSQL in production). Ids are the backend's own integers; the
# only link to GA4 is ``orders.ga_transaction_id`` (null where the shop did not
# record it) and the login ``users.login_id`` that GA4 sees as ``user_id``.
BACKEND_USERS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType(), True),
        T.StructField("login_id", T.StringType(), True),
        T.StructField("email_sha256", T.StringType(), True),
        T.StructField("created_at", T.TimestampType(), True),
        T.StructField("country", T.StringType(), True),
    ]
)

BACKEND_ORDERS_SCHEMA = T.StructType(
    [
        T.StructField("order_id", T.LongType(), True),
        T.StructField("user_id", T.LongType(), True),
        T.StructField("ga_transaction_id", T.StringType(), True),
        T.StructField("order_ts", T.TimestampType(), True),
        T.StructField("status", T.StringType(), True),  # paid | refunded | cancelled
        T.StructField("revenue", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
    ]
)

BACKEND_ORDER_ITEMS_SCHEMA = T.StructType(
    [
        T.StructField("order_item_id", T.LongType(), True),
        T.StructField("order_id", T.LongType(), True),
        T.StructField("item_id", T.StringType(), True),
        T.StructField("quantity", T.LongType(), True),
        T.StructField("price", T.DoubleType(), True),
    ]
)

SOURCE_SCHEMAS: dict[str, T.StructType] = {
    "ad_touchpoints": AD_TOUCHPOINTS_SCHEMA,
    "ad_cost_daily": AD_COST_DAILY_SCHEMA,
    "competitor_exposures": COMPETITOR_EXPOSURES_SCHEMA,
    "backend_users": BACKEND_USERS_SCHEMA,
    "backend_orders": BACKEND_ORDERS_SCHEMA,
    "backend_order_items": BACKEND_ORDER_ITEMS_SCHEMA,
}
