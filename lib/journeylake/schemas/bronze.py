"""Bronze layer: source records flattened into canonical schemas, plus quarantine.

``bronze.events`` holds web/app events (GA4 today). Ad touchpoints, costs and
competitor exposures keep their own bronze tables: their source schemas
(``journeylake.schemas.sources``) plus the derived and ingest columns below.
The backend tables (``bronze.backend_*``) are landed by the backend stage.

Keys: string identifiers are kept as they came (``user_pseudo_id``) and also
hashed once to 64-bit integers (``*_key``, ``xxhash64`` via ``journeylake.keys``)
so later stages shuffle and sort on longs. Placeholders (``(not set)``,
``<Other>``...) never become keys. Raw e-mail addresses and phone numbers never
reach a table: only their salted SHA-256 (``hashed_email``, ``hashed_phone``).

``record_hash`` (and ``event_id`` for events) is the SHA-256 of the whole source
record serialized as JSON: the same source row always gets the same value, so
exact duplicates collapse and reruns insert nothing.
"""

from pyspark.sql import types as T

from journeylake.schemas.columns import column
from journeylake.schemas.sources import (
    AD_COST_DAILY_SCHEMA,
    AD_TOUCHPOINTS_SCHEMA,
    BACKEND_ORDER_ITEMS_SCHEMA,
    BACKEND_ORDERS_SCHEMA,
    BACKEND_USERS_SCHEMA,
    COMPETITOR_EXPOSURES_SCHEMA,
)

INGEST_COLUMNS = [
    column(
        "ingest_run_id",
        T.StringType(),
        False,
        "Batch that ingested the row: a hash of the files read (ingest stage), or the run id (backend tables)",
    ),
    column("ingested_at", T.TimestampType(), False, "UTC wall-clock time of the ingest that wrote the row"),
]

SOURCE_FILE = column(
    "source_file",
    T.StringType(),
    True,
    "Input file the row was first read from (lineage only; the ingest watermark is meta.ingest_files)",
)

BRONZE_EVENTS_SCHEMA = T.StructType(
    [
        column(
            "event_id",
            T.StringType(),
            False,
            "SHA-256 hex of the whole GA4 source record as JSON: the same record always gets the same id",
        ),
        column("source", T.StringType(), False, "Source system of the event: ga4"),
        column("event_date", T.DateType(), False, "UTC date of event_ts; the partition column"),
        column(
            "event_ts",
            T.TimestampType(),
            False,
            "UTC time of the event, from event_timestamp (microseconds since the epoch)",
        ),
        column(
            "event_ts_micros",
            T.LongType(),
            False,
            "Exact source time of the event in microseconds since the epoch (event_timestamp), for ordering",
        ),
        column("event_name", T.StringType(), False, "GA4 event name, e.g. page_view, add_to_cart, purchase"),
        column(
            "event_seq",
            T.LongType(),
            True,
            "GA4 event_bundle_sequence_id: tie-breaker between events with equal times; null when absent",
        ),
        column("user_pseudo_id", T.StringType(), False, "GA4 device id (cookie or app instance id), as sent"),
        column("device_key", T.LongType(), False, "64-bit key of user_pseudo_id (xxhash64, see journeylake.keys)"),
        column("user_id", T.StringType(), True, "Login id sent by the site; null when absent or a placeholder"),
        column("user_key", T.LongType(), True, "64-bit key of user_id; null when user_id is null"),
        column(
            "ga_session_id",
            T.LongType(),
            True,
            "GA4 ga_session_id event param; unique only together with the device; null when absent",
        ),
        column(
            "ga_session_number",
            T.LongType(),
            True,
            "GA4 ga_session_number event param: the number of the session on this device; null when absent",
        ),
        column(
            "source_session_id",
            T.StringType(),
            True,
            "GA4 session across devices: user_pseudo_id, a dot, then ga_session_id; null when either is missing",
        ),
        column(
            "traffic_source",
            T.StringType(),
            True,
            "Event-level traffic source (the source event param), e-mails redacted; null on most events",
        ),
        column(
            "traffic_medium",
            T.StringType(),
            True,
            "Event-level traffic medium (the medium event param), e-mails redacted; null on most events",
        ),
        column(
            "traffic_campaign",
            T.StringType(),
            True,
            "Event-level campaign (the campaign event param), e-mails redacted; null on most events",
        ),
        column(
            "gclid",
            T.StringType(),
            True,
            "Google Ads click id: the gclid event param, else the gclid= of page_location; null for placeholders",
        ),
        column("gclid_key", T.LongType(), True, "64-bit key of gclid; null when gclid is null"),
        column(
            "channel",
            T.StringType(),
            True,
            "GA4 default channel group of the event traffic info; null when the event carries no traffic info",
        ),
        column(
            "page_location", T.StringType(), True, "Page URL (page_location event param), e-mail addresses redacted"
        ),
        column("page_title", T.StringType(), True, "Page title (page_title event param), e-mail addresses redacted"),
        column(
            "page_referrer",
            T.StringType(),
            True,
            "Referring URL (page_referrer event param), e-mail addresses redacted",
        ),
        column(
            "engagement_time_msec",
            T.LongType(),
            True,
            "Engagement time reported with the event (engagement_time_msec event param), in milliseconds",
        ),
        column(
            "session_engaged",
            T.BooleanType(),
            True,
            "True when the session_engaged event param is 1; null when the param is absent",
        ),
        column(
            "revenue",
            T.DoubleType(),
            True,
            "Revenue in currency: ecommerce.purchase_revenue, else the value param of a purchase event",
        ),
        column(
            "currency",
            T.StringType(),
            True,
            "Currency of revenue: the currency event param, else the user_ltv currency when there is revenue",
        ),
        column(
            "transaction_id",
            T.StringType(),
            True,
            "Transaction id as sent (ecommerce, else the transaction_id param), placeholders included",
        ),
        column(
            "transaction_key",
            T.LongType(),
            True,
            "64-bit key of transaction_id; null when it is missing or a placeholder",
        ),
        column("item_quantity", T.LongType(), True, "Number of items in the event (ecommerce.total_item_quantity)"),
        column(
            "is_duplicate_purchase",
            T.BooleanType(),
            False,
            "True for a later purchase event of a transaction id already purchased (in bronze or the batch)",
        ),
        column(
            "hashed_email",
            T.StringType(),
            True,
            "Salted SHA-256 hex of the normalized e-mail form param; the raw address is never stored",
        ),
        column("email_key", T.LongType(), True, "64-bit key of hashed_email; null when there is no e-mail"),
        column(
            "hashed_phone",
            T.StringType(),
            True,
            "Salted SHA-256 hex of the normalized phone form param; the raw number is never stored",
        ),
        column("phone_key", T.LongType(), True, "64-bit key of hashed_phone; null when there is no phone"),
        column(
            "device_fingerprint",
            T.StringType(),
            True,
            "SHA-256 hex of device category, OS and version, browser and version, language, country and city",
        ),
        column("fingerprint_key", T.LongType(), True, "64-bit key of device_fingerprint; null when it is null"),
        column("device_category", T.StringType(), True, "GA4 device.category, e.g. desktop, mobile, tablet"),
        column("operating_system", T.StringType(), True, "GA4 device.operating_system"),
        column("browser", T.StringType(), True, "GA4 device.web_info.browser"),
        column("country", T.StringType(), True, "GA4 geo.country"),
        column("platform", T.StringType(), True, "GA4 platform, e.g. WEB, ANDROID, IOS"),
        column(
            "cost",
            T.DoubleType(),
            True,
            "Always null for web events; kept for the contract (ad costs are in bronze.ad_touchpoints)",
        ),
        SOURCE_FILE,
        *INGEST_COLUMNS,
    ]
)

BRONZE_QUARANTINE_SCHEMA = T.StructType(
    [
        column(
            "source",
            T.StringType(),
            False,
            "Source of the rejected record: ga4, ad_touchpoints, ad_cost_daily, competitor_exposures, backend.*",
        ),
        column(
            "record_id",
            T.StringType(),
            True,
            "event_id or record hash of the source row (backend: its id); null when the row has no id",
        ),
        column(
            "raw_record",
            T.StringType(),
            False,
            "The rejected source row as JSON (with its source file where known), raw e-mails and phones removed",
        ),
        column(
            "reason",
            T.StringType(),
            False,
            "First rule the record failed, e.g. null_timestamp, future_timestamp, duplicate_key, null id",
        ),
        column(
            "event_date",
            T.DateType(),
            True,
            "Date of the record (event, touch, exposure or cost date); null when unknown or unusable",
        ),
        *INGEST_COLUMNS,
    ]
)

_RECORD_HASH = column(
    "record_hash",
    T.StringType(),
    False,
    "SHA-256 hex of the source record as JSON: the same source row always gets the same hash",
)

BRONZE_AD_TOUCHPOINTS_SCHEMA = T.StructType(
    [
        *AD_TOUCHPOINTS_SCHEMA.fields,
        column("touch_date", T.DateType(), False, "UTC date of touch_ts"),
        column(
            "device_key",
            T.LongType(),
            True,
            "64-bit key of user_pseudo_id; null when the platform could not tie the touch to a cookie",
        ),
        column("gclid_key", T.LongType(), True, "64-bit key of gclid; null when the touch has no click id"),
        _RECORD_HASH,
        SOURCE_FILE,
        *INGEST_COLUMNS,
    ]
)

BRONZE_AD_COST_DAILY_SCHEMA = T.StructType([*AD_COST_DAILY_SCHEMA.fields, _RECORD_HASH, SOURCE_FILE, *INGEST_COLUMNS])

BRONZE_COMPETITOR_EXPOSURES_SCHEMA = T.StructType(
    [
        *COMPETITOR_EXPOSURES_SCHEMA.fields,
        column("exposure_date", T.DateType(), False, "UTC date of exposure_ts"),
        column(
            "device_key",
            T.LongType(),
            True,
            "64-bit key of user_pseudo_id; null when the device id is missing or a placeholder",
        ),
        _RECORD_HASH,
        SOURCE_FILE,
        *INGEST_COLUMNS,
    ]
)

# bronze.backend_*: the backend tables as read (journeylake.stages.backend), plus the ingest columns.
BRONZE_BACKEND_USERS_SCHEMA = T.StructType([*BACKEND_USERS_SCHEMA.fields, *INGEST_COLUMNS])
BRONZE_BACKEND_ORDERS_SCHEMA = T.StructType([*BACKEND_ORDERS_SCHEMA.fields, *INGEST_COLUMNS])
BRONZE_BACKEND_ORDER_ITEMS_SCHEMA = T.StructType([*BACKEND_ORDER_ITEMS_SCHEMA.fields, *INGEST_COLUMNS])

# meta.ingest_files: the ingestion watermark. A file is new or changed when its
# (path, size, modification_time) is not here; "everything new since the last
# run" reads exactly those files.
INGEST_FILES_SCHEMA = T.StructType(
    [
        column("source", T.StringType(), False, "Source the file belongs to, e.g. ga4, ad_touchpoints"),
        column("path", T.StringType(), False, "Path of the input file"),
        column("size", T.LongType(), False, "Size of the file in bytes when it was listed"),
        column("modification_time", T.TimestampType(), False, "Modification time of the file when it was listed"),
        column("rows", T.LongType(), False, "Input rows the run read from the file (0 for a file without rows)"),
        column("run_id", T.StringType(), False, "Pipeline run that read the file"),
        column("ingested_at", T.TimestampType(), False, "UTC wall-clock time of the ingest that read the file"),
    ]
)
