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

from journeylake.schemas.sources import AD_COST_DAILY_SCHEMA, AD_TOUCHPOINTS_SCHEMA, COMPETITOR_EXPOSURES_SCHEMA

INGEST_COLUMNS = [
    T.StructField("ingest_run_id", T.StringType(), False),
    T.StructField("ingested_at", T.TimestampType(), False),
]

# The input file a row was first read from (lineage; the watermark is meta.ingest_files).
SOURCE_FILE = T.StructField("source_file", T.StringType(), True)

BRONZE_EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),  # sha256 hex of the whole source record
        T.StructField("source", T.StringType(), False),  # ga4
        T.StructField("event_date", T.DateType(), False),  # UTC date of event_ts; the partition column
        T.StructField("event_ts", T.TimestampType(), False),  # UTC
        T.StructField("event_ts_micros", T.LongType(), False),  # exact source time, for ordering
        T.StructField("event_name", T.StringType(), False),
        T.StructField("event_seq", T.LongType(), True),  # event_bundle_sequence_id: tie-breaker on equal times
        T.StructField("user_pseudo_id", T.StringType(), False),  # device id
        T.StructField("device_key", T.LongType(), False),
        T.StructField("user_id", T.StringType(), True),  # login id; null for placeholders
        T.StructField("user_key", T.LongType(), True),
        T.StructField("ga_session_id", T.LongType(), True),
        T.StructField("ga_session_number", T.LongType(), True),
        T.StructField("source_session_id", T.StringType(), True),  # user_pseudo_id || '.' || ga_session_id
        T.StructField("traffic_source", T.StringType(), True),  # event-level source (event_params.source)
        T.StructField("traffic_medium", T.StringType(), True),
        T.StructField("traffic_campaign", T.StringType(), True),
        T.StructField("gclid", T.StringType(), True),  # event_params.gclid, else the gclid= of page_location
        T.StructField("gclid_key", T.LongType(), True),
        T.StructField("channel", T.StringType(), True),  # GA4 default channel group; null: no traffic info on event
        T.StructField("page_location", T.StringType(), True),
        T.StructField("page_title", T.StringType(), True),
        T.StructField("page_referrer", T.StringType(), True),
        T.StructField("engagement_time_msec", T.LongType(), True),
        T.StructField("session_engaged", T.BooleanType(), True),
        T.StructField("revenue", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
        T.StructField("transaction_id", T.StringType(), True),  # as sent, placeholders included
        T.StructField("transaction_key", T.LongType(), True),  # null for placeholders
        T.StructField("item_quantity", T.LongType(), True),
        T.StructField("is_duplicate_purchase", T.BooleanType(), False),  # a later purchase of a seen transaction
        T.StructField("hashed_email", T.StringType(), True),
        T.StructField("email_key", T.LongType(), True),
        T.StructField("hashed_phone", T.StringType(), True),
        T.StructField("phone_key", T.LongType(), True),
        T.StructField("device_fingerprint", T.StringType(), True),
        T.StructField("fingerprint_key", T.LongType(), True),
        T.StructField("device_category", T.StringType(), True),
        T.StructField("operating_system", T.StringType(), True),
        T.StructField("browser", T.StringType(), True),
        T.StructField("country", T.StringType(), True),
        T.StructField("platform", T.StringType(), True),
        T.StructField("cost", T.DoubleType(), True),  # null for web events; the column exists for the contract
        SOURCE_FILE,
        *INGEST_COLUMNS,
    ]
)

BRONZE_QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("record_id", T.StringType(), True),  # event_id / record hash of the source row
        # {"source_file": ..., "record": <the source row>} as JSON, raw e-mail/phone removed
        T.StructField("raw_record", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("event_date", T.DateType(), True),
        *INGEST_COLUMNS,
    ]
)

_RECORD_HASH = T.StructField("record_hash", T.StringType(), False)

BRONZE_AD_TOUCHPOINTS_SCHEMA = T.StructType(
    [
        *AD_TOUCHPOINTS_SCHEMA.fields,
        T.StructField("touch_date", T.DateType(), False),
        T.StructField("device_key", T.LongType(), True),  # null when the platform could not tie it to a cookie
        T.StructField("gclid_key", T.LongType(), True),
        _RECORD_HASH,
        SOURCE_FILE,
        *INGEST_COLUMNS,
    ]
)

BRONZE_AD_COST_DAILY_SCHEMA = T.StructType([*AD_COST_DAILY_SCHEMA.fields, _RECORD_HASH, SOURCE_FILE, *INGEST_COLUMNS])

BRONZE_COMPETITOR_EXPOSURES_SCHEMA = T.StructType(
    [
        *COMPETITOR_EXPOSURES_SCHEMA.fields,
        T.StructField("exposure_date", T.DateType(), False),
        T.StructField("device_key", T.LongType(), True),
        _RECORD_HASH,
        SOURCE_FILE,
        *INGEST_COLUMNS,
    ]
)

# meta.ingest_files: the ingestion watermark. A file is new or changed when its
# (path, size, modification_time) is not here; "everything new since the last
# run" reads exactly those files.
INGEST_FILES_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("path", T.StringType(), False),
        T.StructField("size", T.LongType(), False),
        T.StructField("modification_time", T.TimestampType(), False),
        T.StructField("rows", T.LongType(), False),  # input rows read from the file by the run
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)
