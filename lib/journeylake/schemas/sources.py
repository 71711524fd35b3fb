"""Schemas of the non-GA4 input sources, as they arrive (files or JDBC tables).

Each source is read with its schema here; the bronze tables add ingest columns
(see ``journeylake.schemas.bronze``). Timestamps are UTC. Money is DOUBLE in the
source files (what ad platforms and the backend export), DECIMAL never appears
in inputs.
"""

from pyspark.sql import types as T

from journeylake.schemas.columns import column

# One ad-platform touch: an impression or a click. ``user_pseudo_id`` is set when
# the ad platform could attribute the touch to a site cookie; clicks carry a
# ``gclid`` that GA4 also records on the landing page_view.
AD_TOUCHPOINTS_SCHEMA = T.StructType(
    [
        column("touch_id", T.StringType(), True, "Ad platform id of the touch; the business key"),
        column("touch_ts", T.TimestampType(), True, "UTC time of the impression or click"),
        column("interaction", T.StringType(), True, "impression or click (other values are quarantined)"),
        column("channel", T.StringType(), True, "Channel of the ad, e.g. Paid Search, Display, Paid Social"),
        column("source", T.StringType(), True, "Traffic source of the ad, as the platform reports it"),
        column("medium", T.StringType(), True, "Traffic medium of the ad, as the platform reports it"),
        column(
            "campaign",
            T.StringType(),
            True,
            "Campaign name of the ad (matched to ad_cost_daily by day, channel and campaign)",
        ),
        column(
            "user_pseudo_id",
            T.StringType(),
            True,
            "Site device id (GA4 user_pseudo_id) the platform tied the touch to; null when it could not",
        ),
        column(
            "gclid",
            T.StringType(),
            True,
            "Click id of a click, also recorded by GA4 on the landing page_view; null when there is none",
        ),
        column("cost", T.DoubleType(), True, "Cost of the touch in currency, as the ad platform reported it"),
        column("currency", T.StringType(), True, "Currency of cost"),
    ]
)

# Spend per day, channel and campaign, with the campaign's daily budget so that
# budget exhaustion can be detected (spend >= budget).
AD_COST_DAILY_SCHEMA = T.StructType(
    [
        column("cost_date", T.DateType(), True, "Day of the spend"),
        column("channel", T.StringType(), True, "Channel of the campaign, e.g. Paid Search, Display"),
        column("campaign", T.StringType(), True, "Campaign name, as on the ad touchpoints"),
        column("cost", T.DoubleType(), True, "Spend of the campaign on that day, in currency"),
        column(
            "daily_budget",
            T.DoubleType(),
            True,
            "Daily budget of the campaign; spend at or above it means the budget was exhausted that day",
        ),
        column("currency", T.StringType(), True, "Currency of cost and daily_budget"),
    ]
)

# A person's device seen exposed to a competitor's ad or site (panel/DSP data).
COMPETITOR_EXPOSURES_SCHEMA = T.StructType(
    [
        column("exposure_id", T.StringType(), True, "Id of the exposure in the panel or DSP data; the business key"),
        column("exposure_ts", T.TimestampType(), True, "UTC time the device was exposed to the competitor"),
        column("competitor", T.StringType(), True, "Competitor whose ad or site the device was exposed to"),
        column("channel", T.StringType(), True, "Channel of the exposure, e.g. Display, Paid Search"),
        column("user_pseudo_id", T.StringType(), True, "Site device id (GA4 user_pseudo_id) of the exposed device"),
    ]
)

# Backend (PostgreSQL in production). Ids are the backend's own integers; the
# only link to GA4 is ``orders.ga_transaction_id`` (null where the shop did not
# record it) and the login ``users.login_id`` that GA4 sees as ``user_id``.
BACKEND_USERS_SCHEMA = T.StructType(
    [
        column("user_id", T.LongType(), True, "Backend user id (integer primary key)"),
        column("login_id", T.StringType(), True, "Login of the account; GA4 sees it as user_id"),
        column("email_sha256", T.StringType(), True, "SHA-256 hex of the account e-mail, as the backend exports it"),
        column("created_at", T.TimestampType(), True, "UTC time the account was created"),
        column("country", T.StringType(), True, "Country of the account"),
    ]
)

BACKEND_ORDERS_SCHEMA = T.StructType(
    [
        column("order_id", T.LongType(), True, "Backend order id (integer primary key)"),
        column("user_id", T.LongType(), True, "Backend user id of the buyer"),
        column(
            "ga_transaction_id",
            T.StringType(),
            True,
            "GA4 transaction id the shop stored on the order; null where it did not record one",
        ),
        column("order_ts", T.TimestampType(), True, "UTC time of the order"),
        column("status", T.StringType(), True, "Order status: paid, refunded or cancelled"),
        column("revenue", T.DoubleType(), True, "Revenue of the order in currency"),
        column("currency", T.StringType(), True, "Currency of revenue"),
    ]
)

BACKEND_ORDER_ITEMS_SCHEMA = T.StructType(
    [
        column("order_item_id", T.LongType(), True, "Backend order line id (integer primary key)"),
        column("order_id", T.LongType(), True, "Backend order id the line belongs to"),
        column("item_id", T.StringType(), True, "Product id of the line"),
        column("quantity", T.LongType(), True, "Units ordered"),
        column("price", T.DoubleType(), True, "Unit price of the item"),
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
