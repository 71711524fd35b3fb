"""Ingestion rules: GA4 export rows and the other sources to bronze rows, or to quarantine with a reason.

Pure DataFrame -> DataFrame functions; reading files and writing Delta is the
stage's job (``journeylake.stages.ingest``). The shape of one batch:

1. ``tag_ga4_events`` / ``tag_source_records`` turn the raw rows into ONE tagged
   frame: the bronze columns plus ``_record_id`` (event_id or record hash),
   ``_is_duplicate`` (an exact copy of an earlier row of the batch),
   ``_reason`` (the first rule the row fails, null when accepted) and
   ``_raw_record`` (the source row as JSON without raw PII, only where quarantined).
2. ``split_tagged`` cuts that frame into (accepted, quarantined); duplicates go
   to neither and are counted, so input = accepted + duplicates + quarantined.
3. ``flag_duplicate_purchases`` marks later purchase events of a transaction id
   already seen (in this batch or in bronze).

Identifiers: ``event_id`` / ``record_hash`` are the SHA-256 of the whole source
record as JSON (``to_json`` of a struct of every source column), so the same row
always gets the same id, whichever file or run brings it. Placeholders
(``journeylake.placeholders``) stay as values in text columns but never become
an identifier, a key or a hashed e-mail/phone.

PII: e-mail and phone arrive as GA4 event params ``email``/``phone`` on form
events. They are normalized (e-mail: trimmed, lower-cased; phone: digits and a
leading ``+``) and hashed as ``sha2(salt || normalized, 256)``. The salt is a
parameter; the stage reads it from the environment variable named by
``[ingest].pii_salt_env`` (default ``JOURNEYLAKE_PII_SALT``) and falls back to
``[ingest].pii_salt_default`` for local runs only. The raw values are dropped
before anything is written, quarantine included. E-mail addresses that forms put
elsewhere (``?email=`` in a page URL, a page title) are redacted in the page
columns, the campaign tags and quarantined records alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import keys
from journeylake.channels import default_channel_group
from journeylake.placeholders import is_placeholder
from journeylake.schemas.bronze import (
    BRONZE_AD_COST_DAILY_SCHEMA,
    BRONZE_AD_TOUCHPOINTS_SCHEMA,
    BRONZE_COMPETITOR_EXPOSURES_SCHEMA,
    BRONZE_EVENTS_SCHEMA,
    BRONZE_QUARANTINE_SCHEMA,
    INGEST_FILES_SCHEMA,
)
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA
from journeylake.schemas.sources import AD_COST_DAILY_SCHEMA, AD_TOUCHPOINTS_SCHEMA, COMPETITOR_EXPOSURES_SCHEMA

SOURCE_GA4 = "ga4"
GA4_COLUMNS: tuple[str, ...] = tuple(GA4_EXPORT_SCHEMA.fieldNames())
# Columns the GA4 reader adds next to the export columns.
SOURCE_FILE = "source_file"
RAW_LINE = "_raw_line"  # the NDJSON text line; null for Parquet
PARSE_FAILED = "_parse_failed"  # the NDJSON line is not a JSON object

# Tagged-frame bookkeeping columns.
RECORD_ID = "_record_id"
IS_DUPLICATE = "_is_duplicate"
REASON = "_reason"
RAW_RECORD = "_raw_record"
QUARANTINE_DATE = "_quarantine_date"
TAG_COLUMNS = (RECORD_ID, IS_DUPLICATE, REASON, RAW_RECORD, QUARANTINE_DATE)

MICROS_PER_DAY = 86_400_000_000
MAX_DISPLAY_YEAR = 9999
PURCHASE_EVENT = "purchase"
PII_PARAM_KEYS = ("email", "phone")
REDACTED = "<redacted>"
# Hashing JSON text of the record: SHA-256 hex.
SHA256_BITS = 256

# Quarantine reasons for GA4 events, in the order they are checked: a row gets the first it fails.
UNPARSEABLE_RECORD = "unparseable_record"
NULL_TIMESTAMP = "null_timestamp"
TIMESTAMP_TOO_OLD = "timestamp_too_old"
FUTURE_TIMESTAMP = "future_timestamp"
MISSING_DEVICE_ID = "missing_device_id"
MISSING_EVENT_NAME = "missing_event_name"  # "unknown event source": nothing says what happened
# A param the pipeline reads (EVENT_PARAMS) sent twice with different values: which one is true is unknown, so
# the record is kept aside rather than silently read as its first copy. Exact repeats are harmless and accepted.
CONFLICTING_PARAMS = "conflicting_params"
NEGATIVE_REVENUE = "negative_revenue"
EVENT_REASONS = (
    UNPARSEABLE_RECORD,
    NULL_TIMESTAMP,
    TIMESTAMP_TOO_OLD,
    FUTURE_TIMESTAMP,
    MISSING_DEVICE_ID,
    MISSING_EVENT_NAME,
    CONFLICTING_PARAMS,
    NEGATIVE_REVENUE,
)
# Reasons for the other sources (checked in the order each SourceSpec lists them).
NULL_KEY = "null_key"
NEGATIVE_COST = "negative_cost"
UNKNOWN_INTERACTION = "unknown_interaction"
DUPLICATE_KEY = "duplicate_key"  # two different rows with one business key in a batch: the first by hash wins

AD_INTERACTIONS = ("impression", "click")

# Masks for raw NDJSON text kept in quarantine: GA4 params named email/phone (either field order) and any
# e-mail-shaped token anywhere else in the line.
_PII_KEYS_RE = "|".join(PII_PARAM_KEYS)
PII_PARAM_KEY_FIRST = r'(?i)(\{\s*"key"\s*:\s*"\s*(?:' + _PII_KEYS_RE + r')\s*"\s*,\s*"value"\s*:\s*)\{[^{}]*\}'
PII_PARAM_VALUE_FIRST = r'(?i)(\{\s*"value"\s*:\s*)\{[^{}]*\}(\s*,\s*"key"\s*:\s*"\s*(?:' + _PII_KEYS_RE + r')\s*")'
# Bounded quantifiers (RFC 5321 limits: 64 characters before the '@', 255 after): every match attempt is bounded,
# so the cost stays linear in the text's length. With an unbounded "+", a long run of letters without an '@'
# was retried from every start position: quadratic, one 100,000-character value stalled a run for minutes.
EMAIL_TOKEN = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,63}"


@dataclass(frozen=True)
class EventLimits:
    """Event times outside [earliest, latest] are quarantined; both bounds are accepted."""

    earliest: datetime
    latest: datetime


def event_limits(as_of: datetime, min_event_date: str, max_future_hours: int) -> EventLimits:
    """Bounds from the run's as-of time and the ``[ingest]`` config."""
    earliest = datetime.combine(date.fromisoformat(min_event_date), datetime.min.time())
    return EventLimits(earliest=earliest, latest=as_of + timedelta(hours=max_future_hours))


# ---- GA4 event params ------------------------------------------------------------------------------------------


def _param_value(params: Column, key: str) -> Column:
    """The value struct of the first param named ``key`` (GA4 sends each key once; first wins if not)."""
    # get() is null when the filtered array is empty, where element_at would raise under ANSI mode.
    return F.get(F.filter(params, lambda p: p["key"] == key), 0)["value"]


def param_string(params: Column, key: str) -> Column:
    """The param as text, from whichever value field is set (string, then int, double, float)."""
    value = _param_value(params, key)
    return F.coalesce(
        value["string_value"],
        value["int_value"].cast("string"),
        value["double_value"].cast("string"),
        value["float_value"].cast("string"),
    )


def param_long(params: Column, key: str) -> Column:
    """The param as a LONG: int_value, else a numeric string or double; null when none parses."""
    value = _param_value(params, key)
    return F.coalesce(
        value["int_value"],
        value["string_value"].try_cast("long"),
        value["double_value"].try_cast("long"),
        value["float_value"].try_cast("long"),
    )


def param_double(params: Column, key: str) -> Column:
    """The param as a DOUBLE: double_value, float_value, int_value, else a numeric string."""
    value = _param_value(params, key)
    return F.coalesce(
        value["double_value"],
        value["float_value"],
        value["int_value"].cast("double"),
        value["string_value"].try_cast("double"),
    )


# ---- identifiers and PII ---------------------------------------------------------------------------------------


def identifier_or_null(column: Column) -> Column:
    """``column`` unless it is null, blank or a placeholder: only real values may become identifiers."""
    return F.when(~is_placeholder(column), column)


def normalize_email(column: Column) -> Column:
    """Trimmed and lower-cased; null for blanks and placeholders."""
    return identifier_or_null(F.lower(F.trim(column)))


def normalize_phone(column: Column) -> Column:
    """Digits only, keeping one leading ``+``; null when no digit is left or for placeholders."""
    kept = F.regexp_replace(F.trim(column), r"[^0-9+]", "")
    plus_only_first = F.regexp_replace(kept, r"(?<!^)\+", "")
    return F.when(~is_placeholder(column) & plus_only_first.rlike(r"[0-9]"), plus_only_first)


def hash_pii(normalized: Column, salt: str) -> Column:
    """``sha2(salt || normalized, 256)`` as hex; null stays null."""
    return F.when(normalized.isNotNull(), F.sha2(F.concat(F.lit(salt), normalized), SHA256_BITS))


def record_hash(columns: list[str]) -> Column:
    """SHA-256 hex of the record's JSON: same source row, same hash (null fields are omitted, consistently)."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns])), SHA256_BITS)


def mask_pii_text(text: Column) -> Column:
    """Raw NDJSON text with the values of email/phone params and any e-mail-shaped token redacted."""
    redacted_value = '{"string_value":"' + REDACTED + '"}'
    masked = F.regexp_replace(text, PII_PARAM_KEY_FIRST, "$1" + redacted_value)
    masked = F.regexp_replace(masked, PII_PARAM_VALUE_FIRST, "$1" + redacted_value + "$2")
    return F.regexp_replace(masked, EMAIL_TOKEN, REDACTED)


def redact_emails(text: Column) -> Column:
    """``text`` with every e-mail-shaped token replaced: forms put addresses in URLs (``?email=``) and titles."""
    return F.regexp_replace(text, EMAIL_TOKEN, REDACTED)


def _without_pii_params(params: Column) -> Column:
    return F.filter(params, lambda p: ~F.coalesce(F.lower(F.trim(p["key"])).isin(*PII_PARAM_KEYS), F.lit(False)))


# ---- GA4 flattening --------------------------------------------------------------------------------------------

SRC = "_src"  # the source record, packed into one struct so flat column names cannot clash with it


def with_event_id(raw: DataFrame) -> DataFrame:
    """Add ``event_id``: SHA-256 of the GA4 record (every export column) as JSON.

    Input: GA4_EXPORT_SCHEMA columns (plus any others, kept). Returns the input columns and ``event_id``.
    """
    return raw.select("*", record_hash(list(GA4_COLUMNS)).alias("event_id"))


# The event params the bronze columns use, each read once into ``_p_<key>`` with the reader for its type.
EVENT_PARAMS: tuple[tuple[str, Callable[[Column, str], Column]], ...] = (
    ("ga_session_id", param_long),
    ("ga_session_number", param_long),
    ("source", param_string),
    ("medium", param_string),
    ("campaign", param_string),
    ("gclid", param_string),
    ("page_location", param_string),
    ("page_title", param_string),
    ("page_referrer", param_string),
    ("engagement_time_msec", param_long),
    ("session_engaged", param_string),
    ("value", param_double),
    ("currency", param_string),
    ("transaction_id", param_string),
    ("email", param_string),
    ("phone", param_string),
)


PARAMS_CONFLICT = "_params_conflict"  # flag column: see CONFLICTING_PARAMS


def has_conflicting_params(params: Column) -> Column:
    """True when some EVENT_PARAMS key appears with two different values; null for null params."""
    read = F.filter(params, lambda p: p["key"].isin(*[key for key, _ in EVENT_PARAMS]))
    # More distinct (key, value) entries than distinct keys: some key carries two values.
    return F.size(F.array_distinct(read)) > F.size(F.array_distinct(F.transform(read, lambda p: p["key"])))


def _p(key: str) -> Column:
    return F.col(f"_p_{key}")


def _with_params(packed: DataFrame) -> DataFrame:
    """Add one ``_p_<key>`` column per EVENT_PARAMS entry (a separate projection: each array scan runs once)."""
    params = F.col(SRC)["event_params"]
    return packed.select("*", *[reader(params, key).alias(f"_p_{key}") for key, reader in EVENT_PARAMS])


def _ga4_flat_columns(pii_salt: str) -> list[Column]:
    """Bronze event columns (without duplicate flag and ingest columns) over ``_src``, ``_p_*`` and ``event_id``."""
    src = F.col(SRC)
    device = src["device"]
    event_ts = F.timestamp_micros(src["event_timestamp"])
    user_pseudo_id = src["user_pseudo_id"]
    device_id = identifier_or_null(user_pseudo_id)
    ga_session_id = _p("ga_session_id")
    # E-mail tools put addresses into campaign tags and landing URLs: free-text params are redacted.
    traffic_source = redact_emails(_p("source"))
    traffic_medium = redact_emails(_p("medium"))
    traffic_campaign = redact_emails(_p("campaign"))
    page_location = redact_emails(_p("page_location"))
    gclid_in_url = F.nullif(F.regexp_extract(page_location, r"[?&]gclid=([^&#]+)", 1), F.lit(""))
    gclid = F.coalesce(identifier_or_null(_p("gclid")), identifier_or_null(gclid_in_url))
    revenue = F.coalesce(
        src["ecommerce"]["purchase_revenue"],
        F.when(src["event_name"] == PURCHASE_EVENT, _p("value")),
    )
    transaction_id = F.coalesce(src["ecommerce"]["transaction_id"], _p("transaction_id"))
    user_id = identifier_or_null(src["user_id"])
    hashed_email = hash_pii(normalize_email(_p("email")), pii_salt)
    hashed_phone = hash_pii(normalize_phone(_p("phone")), pii_salt)
    fingerprint_parts = [
        device["category"],
        device["operating_system"],
        device["operating_system_version"],
        device["web_info"]["browser"],
        device["web_info"]["browser_version"],
        device["language"],
        src["geo"]["country"],
        src["geo"]["city"],
    ]
    # JSON of the array keeps the position of nulls, so (a, null) and (null, a) differ.
    fingerprint = F.when(
        F.coalesce(*fingerprint_parts).isNotNull(), F.sha2(F.to_json(F.array(*fingerprint_parts)), SHA256_BITS)
    )
    has_traffic_info = F.coalesce(traffic_source, traffic_medium, traffic_campaign, gclid).isNotNull()
    return [
        F.col("event_id"),
        F.lit(SOURCE_GA4).alias("source"),
        F.date_from_unix_date(F.floor(src["event_timestamp"] / MICROS_PER_DAY).cast("int")).alias("event_date"),
        event_ts.alias("event_ts"),
        src["event_timestamp"].alias("event_ts_micros"),
        src["event_name"].alias("event_name"),
        src["event_bundle_sequence_id"].alias("event_seq"),
        user_pseudo_id.alias("user_pseudo_id"),
        keys.key_of(keys.DEVICE, device_id).alias("device_key"),
        user_id.alias("user_id"),
        keys.key_of(keys.LOGIN, user_id).alias("user_key"),
        ga_session_id.alias("ga_session_id"),
        _p("ga_session_number").alias("ga_session_number"),
        # ga_session_id alone repeats across devices in the real export; the device makes it unique.
        F.when(device_id.isNotNull() & ga_session_id.isNotNull(), F.concat_ws(".", device_id, ga_session_id)).alias(
            "source_session_id"
        ),
        traffic_source.alias("traffic_source"),
        traffic_medium.alias("traffic_medium"),
        traffic_campaign.alias("traffic_campaign"),
        gclid.alias("gclid"),
        keys.key_of(keys.GCLID, gclid).alias("gclid_key"),
        # Most GA4 events carry no source/medium; null (not "Unassigned") lets sessions take their first real one.
        F.when(has_traffic_info, default_channel_group(traffic_source, traffic_medium, traffic_campaign, gclid)).alias(
            "channel"
        ),
        page_location.alias("page_location"),
        redact_emails(_p("page_title")).alias("page_title"),
        redact_emails(_p("page_referrer")).alias("page_referrer"),
        _p("engagement_time_msec").alias("engagement_time_msec"),
        # GA4 sends session_engaged as the string "1" on web and the int 1 elsewhere.
        (_p("session_engaged") == "1").alias("session_engaged"),
        revenue.alias("revenue"),
        F.coalesce(_p("currency"), F.when(revenue.isNotNull(), src["user_ltv"]["currency"])).alias("currency"),
        transaction_id.alias("transaction_id"),
        keys.key_of(keys.TRANSACTION, identifier_or_null(transaction_id)).alias("transaction_key"),
        src["ecommerce"]["total_item_quantity"].alias("item_quantity"),
        hashed_email.alias("hashed_email"),
        keys.key_of(keys.EMAIL, hashed_email).alias("email_key"),
        hashed_phone.alias("hashed_phone"),
        keys.key_of(keys.PHONE, hashed_phone).alias("phone_key"),
        fingerprint.alias("device_fingerprint"),
        keys.key_of(keys.FINGERPRINT, fingerprint).alias("fingerprint_key"),
        device["category"].alias("device_category"),
        device["operating_system"].alias("operating_system"),
        device["web_info"]["browser"].alias("browser"),
        src["geo"]["country"].alias("country"),
        src["platform"].alias("platform"),
        F.lit(None).cast("double").alias("cost"),
        F.col(SOURCE_FILE),
    ]


FLAT_EVENT_COLUMNS: tuple[str, ...] = tuple(
    c for c in BRONZE_EVENTS_SCHEMA.fieldNames() if c not in ("is_duplicate_purchase", "ingest_run_id", "ingested_at")
)


def _packed(raw: DataFrame) -> DataFrame:
    extras = [c for c in (SOURCE_FILE, RAW_LINE, PARSE_FAILED, "event_id") if c in raw.columns]
    return raw.select(F.struct(*[F.col(c) for c in GA4_COLUMNS]).alias(SRC), *extras)


def flatten_ga4_events(raw: DataFrame, pii_salt: str) -> DataFrame:
    """GA4 export rows to canonical event rows (no validation, no dedup).

    Input: GA4_EXPORT_SCHEMA columns, ``source_file`` and ``event_id`` (``with_event_id``).
    Returns FLAT_EVENT_COLUMNS: the bronze.events columns except ``is_duplicate_purchase`` and the ingest columns.
    """
    flat = _with_params(_packed(raw)).select(*_ga4_flat_columns(pii_salt))
    return flat.select(*FLAT_EVENT_COLUMNS)


def _first_failing(rules: list[tuple[str, Column]]) -> Column:
    """The name of the first rule whose condition is true; null when none is (a null condition is not a failure)."""
    reason = F.when(rules[0][1], F.lit(rules[0][0]))
    for name, condition in rules[1:]:
        reason = reason.when(condition, F.lit(name))
    return reason


def event_rules(limits: EventLimits) -> list[tuple[str, Column]]:
    """(reason, failing condition) over the flat event columns and ``_params_conflict``, in EVENT_REASONS order."""
    rules = [
        (UNPARSEABLE_RECORD, F.col(PARSE_FAILED)),
        (NULL_TIMESTAMP, F.col("event_ts_micros").isNull()),
        (TIMESTAMP_TOO_OLD, F.col("event_ts") < F.lit(limits.earliest)),
        (FUTURE_TIMESTAMP, F.col("event_ts") > F.lit(limits.latest)),
        (MISSING_DEVICE_ID, is_placeholder(F.col("user_pseudo_id"))),
        (MISSING_EVENT_NAME, F.coalesce(F.trim(F.col("event_name")), F.lit("")) == ""),
        (CONFLICTING_PARAMS, F.col(PARAMS_CONFLICT)),
        (NEGATIVE_REVENUE, F.col("revenue") < 0),
    ]
    assert tuple(name for name, _ in rules) == EVENT_REASONS
    return rules


def _mark_exact_duplicates(df: DataFrame) -> DataFrame:
    """``_is_duplicate``: the row repeats an earlier row with the same ``_record_id``.

    Rows sharing a record id are identical source records, so which copy is kept only decides the
    ``source_file`` shown; the file path (then the raw line) orders them so the choice is stable.
    """
    copies = W.partitionBy(RECORD_ID).orderBy(F.col(SOURCE_FILE).asc_nulls_last(), F.col(RAW_LINE).asc_nulls_last())
    return df.withColumn(IS_DUPLICATE, F.row_number().over(copies) > 1)


def tag_ga4_events(raw: DataFrame, pii_salt: str, limits: EventLimits) -> DataFrame:
    """GA4 export rows to one tagged frame (see the module docstring).

    Input: GA4_EXPORT_SCHEMA columns, ``source_file``, and for NDJSON ``_raw_line`` and ``_parse_failed``
    (absent means Parquet: no raw line, parsed). Returns FLAT_EVENT_COLUMNS plus TAG_COLUMNS.
    """
    if RAW_LINE not in raw.columns:
        raw = raw.withColumn(RAW_LINE, F.lit(None).cast("string")).withColumn(PARSE_FAILED, F.lit(False))
    packed = _with_params(_packed(with_event_id(raw)))
    flat = packed.select(
        *_ga4_flat_columns(pii_salt),
        has_conflicting_params(F.col(SRC)["event_params"]).alias(PARAMS_CONFLICT),
        F.col(SRC),
        F.col(RAW_LINE),
        F.coalesce(F.col(PARSE_FAILED), F.lit(False)).alias(PARSE_FAILED),
    )
    # An unparseable line has no record to hash: its text identifies it.
    record_id = F.when(F.col(PARSE_FAILED), F.sha2(F.col(RAW_LINE), SHA256_BITS)).otherwise(F.col("event_id"))
    rule_reason = _first_failing(event_rules(limits))
    masked_record = F.col(SRC).withField("event_params", _without_pii_params(F.col(SRC)["event_params"]))
    raw_json = F.when(
        F.col(RAW_LINE).isNotNull(),
        F.to_json(F.struct(F.col(SOURCE_FILE), mask_pii_text(F.col(RAW_LINE)).alias("raw_text"))),
    ).otherwise(redact_emails(F.to_json(F.struct(F.col(SOURCE_FILE), masked_record.alias("record")))))
    # Rules and the raw JSON (only for rejected rows) are computed before the duplicate window, so the
    # shuffle it needs carries flat columns only, never the nested source record.
    checked = flat.select(
        *FLAT_EVENT_COLUMNS,
        RAW_LINE,
        record_id.alias(RECORD_ID),
        rule_reason.alias("_rule_reason"),
        F.when(rule_reason.isNotNull(), raw_json).alias(RAW_RECORD),
    )
    tagged = _mark_exact_duplicates(checked)
    return tagged.select(
        *FLAT_EVENT_COLUMNS,
        RECORD_ID,
        IS_DUPLICATE,
        # A duplicate is counted as removed whatever it would fail: quarantine holds one row per record.
        F.when(~F.col(IS_DUPLICATE), F.col("_rule_reason")).alias(REASON),
        F.when(~F.col(IS_DUPLICATE), F.col(RAW_RECORD)).alias(RAW_RECORD),
        # A date past year 9999 (a corrupt timestamp) is valid in Spark but breaks most readers of the table.
        F.when(F.year("event_date") <= MAX_DISPLAY_YEAR, F.col("event_date")).alias(QUARANTINE_DATE),
    )


# ---- other sources ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """How one non-GA4 source becomes its bronze table."""

    name: str  # source name, input folder and bronze table name
    schema: T.StructType  # the input contract (journeylake.schemas.sources)
    bronze_schema: T.StructType
    keys: tuple[str, ...]  # business key of the bronze table (MERGE key)
    rules: tuple[tuple[str, Callable[[], Column]], ...]  # (reason, failing condition), checked in order
    derived: tuple[tuple[str, Callable[[], Column]], ...]  # columns the bronze table adds
    date_column: str | None  # the date shown in quarantine
    # The time checked against the run's limits like GA4 event times: a touch dated 2100 would otherwise
    # become journey activity far after the run's as-of.
    time_column: str | None = None


def _any_null(*names: str) -> Callable[[], Column]:
    def condition() -> Column:
        nulls = [F.col(n).isNull() for n in names]
        result = nulls[0]
        for other in nulls[1:]:
            result = result | other
        return result

    return condition


SOURCE_SPECS: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec(
            name="ad_touchpoints",
            schema=AD_TOUCHPOINTS_SCHEMA,
            bronze_schema=BRONZE_AD_TOUCHPOINTS_SCHEMA,
            keys=("touch_id",),
            rules=(
                (NULL_KEY, _any_null("touch_id")),
                (NULL_TIMESTAMP, _any_null("touch_ts")),
                (
                    UNKNOWN_INTERACTION,
                    lambda: ~F.coalesce(F.lower(F.col("interaction")).isin(*AD_INTERACTIONS), F.lit(False)),
                ),
                (NEGATIVE_COST, lambda: F.col("cost") < 0),
            ),
            derived=(
                ("touch_date", lambda: F.to_date(F.col("touch_ts"))),
                ("device_key", lambda: keys.key_of(keys.DEVICE, identifier_or_null(F.col("user_pseudo_id")))),
                ("gclid_key", lambda: keys.key_of(keys.GCLID, identifier_or_null(F.col("gclid")))),
            ),
            date_column="touch_date",
            time_column="touch_ts",
        ),
        SourceSpec(
            name="ad_cost_daily",
            schema=AD_COST_DAILY_SCHEMA,
            bronze_schema=BRONZE_AD_COST_DAILY_SCHEMA,
            keys=("cost_date", "channel", "campaign"),
            rules=(
                (NULL_KEY, _any_null("cost_date", "channel", "campaign")),
                (NEGATIVE_COST, lambda: (F.col("cost") < 0) | (F.col("daily_budget") < 0)),
            ),
            derived=(),
            date_column="cost_date",
        ),
        SourceSpec(
            name="competitor_exposures",
            schema=COMPETITOR_EXPOSURES_SCHEMA,
            bronze_schema=BRONZE_COMPETITOR_EXPOSURES_SCHEMA,
            keys=("exposure_id",),
            rules=((NULL_KEY, _any_null("exposure_id")), (NULL_TIMESTAMP, _any_null("exposure_ts"))),
            derived=(
                ("exposure_date", lambda: F.to_date(F.col("exposure_ts"))),
                ("device_key", lambda: keys.key_of(keys.DEVICE, identifier_or_null(F.col("user_pseudo_id")))),
            ),
            date_column="exposure_date",
            time_column="exposure_ts",
        ),
    )
}


def source_rules(spec: SourceSpec, limits: EventLimits | None) -> list[tuple[str, Column]]:
    """The spec's rules, then (for a timed source, when limits are given) the too-old and future-time rules."""
    rules = [(name, condition()) for name, condition in spec.rules]
    if spec.time_column and limits is not None:
        time = F.col(spec.time_column)
        rules += [(TIMESTAMP_TOO_OLD, time < F.lit(limits.earliest)), (FUTURE_TIMESTAMP, time > F.lit(limits.latest))]
    return rules


def tag_source_records(df: DataFrame, spec: SourceSpec, limits: EventLimits | None = None) -> DataFrame:
    """Rows of one non-GA4 source to one tagged frame.

    Input: ``spec.schema`` columns and ``source_file``. Returns ``spec.bronze_schema`` columns without the
    ingest columns, plus TAG_COLUMNS. ``_record_id`` is ``record_hash``. Of two different rows with one
    business key, the one with the smaller hash is kept and the other quarantined (``duplicate_key``),
    so the MERGE on the key never sees two source rows for one target row.
    """
    source_columns = spec.schema.fieldNames()
    hashed = df.select(
        *source_columns,
        F.col(SOURCE_FILE),
        F.lit(None).cast("string").alias(RAW_LINE),
        record_hash(source_columns).alias("record_hash"),
    ).withColumn(RECORD_ID, F.col("record_hash"))
    with_rules = _mark_exact_duplicates(hashed).withColumn(
        REASON, F.when(~F.col(IS_DUPLICATE), _first_failing(source_rules(spec, limits)))
    )
    eligible = ~F.col(IS_DUPLICATE) & F.col(REASON).isNull()
    versions = W.partitionBy(*spec.keys, eligible).orderBy(F.col("record_hash"))
    with_conflicts = with_rules.withColumn(
        REASON,
        F.when(eligible & (F.row_number().over(versions) > 1), F.lit(DUPLICATE_KEY)).otherwise(F.col(REASON)),
    )
    derived = with_conflicts.select("*", *[expr().alias(name) for name, expr in spec.derived])
    bronze_columns = [c for c in spec.bronze_schema.fieldNames() if c not in ("ingest_run_id", "ingested_at")]
    raw_json = F.to_json(F.struct(F.col(SOURCE_FILE), F.struct(*source_columns).alias("record")))
    return derived.select(
        *bronze_columns,
        RECORD_ID,
        IS_DUPLICATE,
        REASON,
        F.when(F.col(REASON).isNotNull(), raw_json).alias(RAW_RECORD),
        (F.col(spec.date_column) if spec.date_column else F.lit(None).cast("date")).alias(QUARANTINE_DATE),
    )


# ---- splitting, flags, counts ----------------------------------------------------------------------------------


def _ingest_columns(run_id: str, ingested_at: datetime) -> list[Column]:
    return [F.lit(run_id).alias("ingest_run_id"), F.lit(ingested_at).alias("ingested_at")]


def split_tagged(
    tagged: DataFrame, bronze_schema: T.StructType, source: str, run_id: str, ingested_at: datetime
) -> tuple[DataFrame, DataFrame]:
    """(accepted, quarantined) from one tagged frame; exact duplicates are in neither.

    Accepted: ``bronze_schema`` columns (``is_duplicate_purchase`` left to ``flag_duplicate_purchases``
    when the schema has it). Quarantined: BRONZE_QUARANTINE_SCHEMA columns.
    """
    kept = tagged.where(~F.col(IS_DUPLICATE))
    wanted = [
        c for c in bronze_schema.fieldNames() if c not in ("is_duplicate_purchase", "ingest_run_id", "ingested_at")
    ]
    accepted = kept.where(F.col(REASON).isNull()).select(*wanted, *_ingest_columns(run_id, ingested_at))
    quarantined = kept.where(F.col(REASON).isNotNull()).select(
        F.lit(source).alias("source"),
        F.col(RECORD_ID).alias("record_id"),
        F.col(RAW_RECORD).alias("raw_record"),
        F.col(REASON).alias("reason"),
        F.col(QUARANTINE_DATE).alias("event_date"),
        *_ingest_columns(run_id, ingested_at),
    )
    return accepted, quarantined.select(*BRONZE_QUARANTINE_SCHEMA.fieldNames())


def flag_duplicate_purchases(events: DataFrame, prior_purchases: DataFrame) -> DataFrame:
    """Set ``is_duplicate_purchase`` on purchase events of a transaction id that was already purchased.

    ``events``: accepted bronze event columns (without the flag). ``prior_purchases``: ``event_id``,
    ``transaction_key``, ``event_ts_micros`` of purchases already in bronze. Per transaction, purchases
    already in bronze come first (their flags never change, bronze is insert-only), then the batch's by
    time and event id; every purchase after the first is a duplicate. Placeholder transaction ids have no
    key and are never flagged: "(not set)" is not one transaction. Returns BRONZE_EVENTS_SCHEMA columns.
    """
    batch = events.where((F.col("event_name") == PURCHASE_EVENT) & F.col("transaction_key").isNotNull()).select(
        "event_id", "transaction_key", "event_ts_micros", F.lit(False).alias("_in_bronze")
    )
    # A rerun brings the same purchases again: they are the batch's, not earlier ones.
    earlier = prior_purchases.join(batch.select("event_id"), on="event_id", how="left_anti").select(
        "event_id", "transaction_key", "event_ts_micros", F.lit(True).alias("_in_bronze")
    )
    order = W.partitionBy("transaction_key").orderBy(
        F.col("_in_bronze").desc(), F.col("event_ts_micros").asc(), F.col("event_id").asc()
    )
    flags = (
        batch.unionByName(earlier)
        .withColumn("_rank", F.row_number().over(order))
        .where(~F.col("_in_bronze"))
        .select("event_id", (F.col("_rank") > 1).alias("_dup"))
    )
    flagged = events.join(flags, on="event_id", how="left").withColumn(
        "is_duplicate_purchase", F.coalesce(F.col("_dup"), F.lit(False))
    )
    return flagged.select(*BRONZE_EVENTS_SCHEMA.fieldNames())


def outcome_counts(tagged: DataFrame) -> DataFrame:
    """Rows per (source_file, outcome): outcome is ``accepted``, ``duplicate`` or the quarantine reason.

    Small by construction (files x reasons): the stage collects it for accounting and the watermark.
    Input: TAG_COLUMNS and ``source_file``. Returns ``source_file``, ``outcome``, ``rows``.
    """
    outcome = F.when(F.col(IS_DUPLICATE), F.lit("duplicate")).otherwise(F.coalesce(F.col(REASON), F.lit("accepted")))
    return tagged.groupBy(F.col(SOURCE_FILE), outcome.alias("outcome")).agg(F.count(F.lit(1)).alias("rows"))


# ---- the watermark ---------------------------------------------------------------------------------------------

# The export day in a GA4 file name (events_YYYYMMDD.parquet) or folder (events_YYYYMMDD.parquet/part-0.parquet).
FILE_DATE_PATTERN = r"events_(?:intraday_)?(\d{8})"


def select_files_to_ingest(
    listed: DataFrame, processed: DataFrame, from_date: date | None = None, to_date: date | None = None
) -> DataFrame:
    """The listed files this run reads.

    ``listed``: ``source``, ``path``, ``size``, ``modification_time``. ``processed``: meta.ingest_files.
    Without a date range: files whose (path, size, modification time) is not in ``processed`` (new or
    changed). With a range: files dated in the range by their name (re-read on purpose; the MERGE keeps
    that idempotent), plus new or changed undated files. Returns the ``listed`` columns.
    """
    unseen = listed.join(
        processed.select("source", "path", "size", "modification_time"),
        on=["source", "path", "size", "modification_time"],
        how="left_anti",
    )
    if from_date is None and to_date is None:
        return unseen.select(*listed.columns)
    file_date = F.try_to_timestamp(F.regexp_extract(F.col("path"), FILE_DATE_PATTERN, 1), F.lit("yyyyMMdd")).cast(
        "date"
    )
    in_range = F.lit(True)
    if from_date is not None:
        in_range = in_range & (file_date >= F.lit(from_date))
    if to_date is not None:
        in_range = in_range & (file_date <= F.lit(to_date))
    dated = listed.where(file_date.isNotNull() & in_range)
    undated = unseen.where(file_date.isNull())
    return dated.select(*listed.columns).unionByName(undated.select(*listed.columns))


BATCH_ID_PREFIX = "batch-"
BATCH_ID_HEX_CHARS = 24


def batch_id(files: Sequence[tuple[str, str, int, datetime]]) -> str:
    """The ``ingest_run_id`` of the rows read from ``files`` ((source, path, size, modification time)): a hash.

    A run killed midway leaves part of its batch in bronze and no watermark, so its rerun reads the same files:
    with an id derived from them, the rerun's rows and the killed run's are one batch (gold.users.active_runs
    counts batches), as in a run that was never interrupted.
    """
    listing = json.dumps(sorted([source, path, size, str(mtime)] for source, path, size, mtime in files))
    return BATCH_ID_PREFIX + hashlib.sha256(listing.encode()).hexdigest()[:BATCH_ID_HEX_CHARS]


def ingest_file_rows(files: DataFrame, rows_per_file: DataFrame, run_id: str, ingested_at: datetime) -> DataFrame:
    """meta.ingest_files rows for the files a run read.

    ``files``: ``source``, ``path``, ``size``, ``modification_time``. ``rows_per_file``: ``source_file``,
    ``rows`` (a file with no rows is absent and gets 0). Returns INGEST_FILES_SCHEMA columns.
    """
    joined = files.join(rows_per_file.withColumnRenamed(SOURCE_FILE, "path"), on="path", how="left")
    return joined.select(
        "source",
        "path",
        "size",
        "modification_time",
        F.coalesce(F.col("rows"), F.lit(0)).cast("long").alias("rows"),
        F.lit(run_id).alias("run_id"),
        F.lit(ingested_at).alias("ingested_at"),
    ).select(*INGEST_FILES_SCHEMA.fieldNames())
