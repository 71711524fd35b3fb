"""Bronze layer: source records flattened into canonical schemas, plus quarantine.

``bronze.events`` holds web/app events (GA4 today). Ad touchpoints, costs,
competitor exposures and backend tables keep their own bronze tables: their
source schemas (``journeylake.schemas.sources``) plus the ingest columns below.

Keys: string identifiers are kept as they came (``user_pseudo_id``) and also
hashed once to 64-bit integers (``*_key``, ``xxhash64``) so later stages shuffle
and sort on longs. Raw e-mail addresses and phone numbers never reach a table:
only their salted SHA-256 (``hashed_email``, ``hashed_phone``).
"""

from pyspark.sql import types as T

INGEST_COLUMNS = [
    T.StructField("ingest_run_id", T.StringType(), False),
    T.StructField("ingested_at", T.TimestampType(), False),
]

BRONZE_EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),  # sha256 hex of the source record's identity
        T.StructField("source", T.StringType(), False),  # ga4
        T.StructField("event_date", T.DateType(), False),  # UTC date of event_ts; the partition column
        T.StructField("event_ts", T.TimestampType(), False),  # UTC
        T.StructField("event_ts_micros", T.LongType(), False),  # exact source time, for ordering
        T.StructField("event_name", T.StringType(), False),
        T.StructField("event_seq", T.LongType(), True),  # event_bundle_sequence_id: tie-breaker on equal times
        T.StructField("user_pseudo_id", T.StringType(), False),  # device id
        T.StructField("device_key", T.LongType(), False),
        T.StructField("user_id", T.StringType(), True),  # login id
        T.StructField("ga_session_id", T.LongType(), True),
        T.StructField("ga_session_number", T.LongType(), True),
        T.StructField("source_session_id", T.StringType(), True),  # user_pseudo_id || '.' || ga_session_id
        T.StructField("traffic_source", T.StringType(), True),  # event-level source (event_params.source)
        T.StructField("traffic_medium", T.StringType(), True),
        T.StructField("traffic_campaign", T.StringType(), True),
        T.StructField("gclid", T.StringType(), True),
        T.StructField("channel", T.StringType(), True),  # GA4 default channel group of source/medium/campaign
        T.StructField("page_location", T.StringType(), True),
        T.StructField("page_title", T.StringType(), True),
        T.StructField("page_referrer", T.StringType(), True),
        T.StructField("engagement_time_msec", T.LongType(), True),
        T.StructField("session_engaged", T.BooleanType(), True),
        T.StructField("revenue", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
        T.StructField("transaction_id", T.StringType(), True),
        T.StructField("is_duplicate_purchase", T.BooleanType(), False),
        T.StructField("hashed_email", T.StringType(), True),
        T.StructField("hashed_phone", T.StringType(), True),
        T.StructField("device_fingerprint", T.StringType(), True),
        T.StructField("device_category", T.StringType(), True),
        T.StructField("operating_system", T.StringType(), True),
        T.StructField("browser", T.StringType(), True),
        T.StructField("country", T.StringType(), True),
        T.StructField("cost", T.DoubleType(), True),  # null for web events; the column exists for the contract
        *INGEST_COLUMNS,
    ]
)

BRONZE_QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("record_id", T.StringType(), True),  # event_id or source id where one could be computed
        T.StructField("raw_record", T.StringType(), False),  # the source row as JSON
        T.StructField("reason", T.StringType(), False),
        T.StructField("event_date", T.DateType(), True),
        *INGEST_COLUMNS,
    ]
)
