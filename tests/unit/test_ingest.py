"""Ingestion rules on tiny hand-built GA4 rows: params, flattening, ids, PII, validation, duplicates."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake import ingest
from journeylake.ingest import EventLimits
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA, BRONZE_QUARANTINE_SCHEMA
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA

pytestmark = pytest.mark.unit

SALT = "test-salt"
BASE_TS = datetime(2020, 12, 19, 10, 0, 0)
LIMITS = EventLimits(earliest=datetime(2015, 1, 1), latest=datetime(2021, 2, 1))
RUN_ID = "run-test"
INGESTED_AT = datetime(2021, 2, 1, 12, 0, 0)
FILE_A = "file:/in/events_20201219.parquet"
FILE_B = "file:/in/events_20201220.parquet"


# ---- hand-built rows -------------------------------------------------------------------------------------------


def micros(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp() * 1_000_000)


def param(key: str, value: Any) -> dict[str, Any]:
    """One event_params entry with the value in the field GA4 uses for its type."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"key": key, "value": {"int_value": value}}
    if isinstance(value, float):
        return {"key": key, "value": {"double_value": value}}
    return {"key": key, "value": {"string_value": value}}


def ga4_row(
    name: str | None = "page_view",
    ts: datetime | int | None = BASE_TS,
    device: str | None = "dev-1",
    params: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_date": "20201219",
        "event_timestamp": micros(ts) if isinstance(ts, datetime) else ts,
        "event_name": name,
        "user_pseudo_id": device,
        "event_params": [param(k, v) for k, v in (params or {"ga_session_id": 111}).items()],
        "device": {"category": "desktop", "operating_system": "Windows", "web_info": {"browser": "Chrome"}},
        "geo": {"country": "France", "city": "Paris"},
        "platform": "WEB",
    }
    row.update(fields)
    return row


def ga4_frame(spark: SparkSession, rows: list[dict[str, Any]], source_file: str = FILE_A) -> DataFrame:
    """GA4_EXPORT_SCHEMA columns plus source_file, as the Parquet reader returns them."""
    lines = spark.createDataFrame([(json.dumps(r),) for r in rows], "line string")
    parsed = lines.select(F.from_json("line", GA4_EXPORT_SCHEMA).alias("r")).select("r.*")
    return parsed.withColumn("source_file", F.lit(source_file))


def tag(spark: SparkSession, rows: list[dict[str, Any]], source_file: str = FILE_A) -> DataFrame:
    return ingest.tag_ga4_events(ga4_frame(spark, rows, source_file), SALT, LIMITS)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- params ----------------------------------------------------------------------------------------------------


def test_params_are_read_by_key_from_the_field_their_type_uses(spark: SparkSession) -> None:
    params = [
        param("s", "text"),
        param("i", 42),
        param("d", 2.5),
        param("numeric_text", "17"),
        param("dup", "first"),
        param("dup", "second"),
        {"key": "f", "value": {"float_value": 1.5}},
        {"key": "empty", "value": {}},
    ]
    df = spark.createDataFrame(
        [(json.dumps({"event_params": params}),), (json.dumps({"event_params": None}),)], "j string"
    )
    frame = df.select(F.from_json("j", GA4_EXPORT_SCHEMA)["event_params"].alias("p"))
    p = F.col("p")
    got = frame.select(
        ingest.param_string(p, "s").alias("s"),
        ingest.param_string(p, "i").alias("i_as_text"),
        ingest.param_long(p, "i").alias("i"),
        ingest.param_double(p, "d").alias("d"),
        ingest.param_double(p, "i").alias("i_as_double"),
        ingest.param_long(p, "numeric_text").alias("numeric_text"),
        ingest.param_long(p, "s").alias("text_as_long"),
        ingest.param_string(p, "dup").alias("dup"),
        ingest.param_double(p, "f").alias("f"),
        ingest.param_string(p, "empty").alias("empty"),
        ingest.param_string(p, "missing").alias("missing"),
    ).collect()
    assert got[0].asDict() == {
        "s": "text",
        "i_as_text": "42",
        "i": 42,
        "d": 2.5,
        "i_as_double": 42.0,
        "numeric_text": 17,
        "text_as_long": None,
        "dup": "first",
        "f": 1.5,
        "empty": None,
        "missing": None,
    }
    assert all(v is None for v in got[1].asDict().values())  # null event_params: nulls, no error


# ---- flattening ------------------------------------------------------------------------------------------------


def test_flatten_maps_the_export_to_canonical_columns(spark: SparkSession) -> None:
    purchase = ga4_row(
        "purchase",
        BASE_TS,
        params={
            "ga_session_id": 111,
            "ga_session_number": 3,
            "source": "google",
            "medium": "cpc",
            "campaign": "brand",
            "page_location": "https://shop.example/checkout?gclid=ABC123&x=1",
            "engagement_time_msec": 1500,
            "session_engaged": "1",
            "currency": "EUR",
        },
        user_id="login-7",
        event_bundle_sequence_id=9,
        ecommerce={"purchase_revenue": 30.5, "transaction_id": "T-1", "total_item_quantity": 2},
    )
    view = ga4_row("page_view", BASE_TS, params={"ga_session_id": 111, "session_engaged": 1}, user_id="(not set)")
    rows = {r["event_name"]: r for r in tag(spark, [purchase, view]).collect()}
    p, v = rows["purchase"], rows["page_view"]
    assert p["event_ts"] == BASE_TS and p["event_ts_micros"] == micros(BASE_TS)
    assert str(p["event_date"]) == "2020-12-19"
    assert p["source_session_id"] == "dev-1.111" and p["ga_session_number"] == 3 and p["event_seq"] == 9
    assert (p["traffic_source"], p["traffic_medium"], p["traffic_campaign"]) == ("google", "cpc", "brand")
    assert p["gclid"] == "ABC123" and p["gclid_key"] is not None
    assert p["channel"] == "Paid Search"
    assert (p["revenue"], p["currency"], p["transaction_id"], p["item_quantity"]) == (30.5, "EUR", "T-1", 2)
    assert p["engagement_time_msec"] == 1500 and p["session_engaged"] is True
    assert p["user_id"] == "login-7" and p["user_key"] is not None and p["device_key"] is not None
    assert p["device_category"] == "desktop" and p["browser"] == "Chrome" and p["country"] == "France"
    # No traffic fields on the event: no channel (not "Unassigned"), so sessions can take the first real one.
    assert v["channel"] is None and v["traffic_source"] is None
    assert v["session_engaged"] is True  # int 1 as well as string "1"
    assert v["user_id"] is None and v["user_key"] is None  # placeholder login never becomes an identifier
    assert p["device_fingerprint"] == v["device_fingerprint"] is not None  # same device description


def test_flatten_output_contract(spark: SparkSession) -> None:
    raw = ingest.with_event_id(ga4_frame(spark, [ga4_row()]))
    flat = ingest.flatten_ga4_events(raw, SALT)
    assert tuple(flat.columns) == ingest.FLAT_EVENT_COLUMNS
    expected = {f.name: f.dataType for f in BRONZE_EVENTS_SCHEMA.fields if f.name in ingest.FLAT_EVENT_COLUMNS}
    assert {f.name: f.dataType for f in flat.schema.fields} == expected


def test_session_id_needs_both_device_and_ga_session(spark: SparkSession) -> None:
    rows = [
        ga4_row(device="dev-1", params={"ga_session_id": 5}),
        ga4_row(device="dev-2", params={"ga_session_id": 5}),  # same ga_session_id, another device
        ga4_row(device="dev-3", params={"page_title": "no session"}),
    ]
    got = sorted((r["user_pseudo_id"], r["source_session_id"]) for r in tag(spark, rows).collect())
    assert got == [("dev-1", "dev-1.5"), ("dev-2", "dev-2.5"), ("dev-3", None)]


def test_placeholders_stay_values_but_never_identifiers(spark: SparkSession) -> None:
    row = ga4_row(
        "purchase",
        params={
            "ga_session_id": 1,
            "source": "<Other>",
            "medium": "(data deleted)",
            "gclid": "(not set)",
            "email": "<obfuscated>",
            "phone": "0",
        },
        user_id="<Other>",
        ecommerce={"purchase_revenue": 1.0, "transaction_id": "(not set)"},
    )
    [r] = tag(spark, [row]).collect()
    assert r["_reason"] is None
    assert (r["traffic_source"], r["traffic_medium"], r["transaction_id"]) == ("<Other>", "(data deleted)", "(not set)")
    assert r["channel"] == "Unassigned"
    for identifier in ("user_id", "user_key", "gclid", "gclid_key", "transaction_key"):
        assert r[identifier] is None, identifier
    for identifier in ("hashed_email", "email_key", "hashed_phone", "phone_key"):
        assert r[identifier] is None, identifier


def test_late_event_lands_on_its_own_date(spark: SparkSession) -> None:
    late = ga4_row(ts=datetime(2020, 12, 17, 23, 59, 59, 999999), event_date="20201220")
    midnight = ga4_row(ts=datetime(2020, 12, 18, 0, 0, 0), device="dev-2", event_date="20201220")
    got = sorted(str(r["event_date"]) for r in tag(spark, [late, midnight], FILE_B).collect())
    assert got == ["2020-12-17", "2020-12-18"]


# ---- event id --------------------------------------------------------------------------------------------------


def test_event_id_is_a_deterministic_hash_of_the_whole_record(spark: SparkSession) -> None:
    row = ga4_row(params={"ga_session_id": 1, "page_title": "A"})
    other = ga4_row(params={"ga_session_id": 1, "page_title": "B"})
    first = ingest.with_event_id(ga4_frame(spark, [row, other], FILE_A)).select("event_id").collect()
    again = ingest.with_event_id(ga4_frame(spark, [row], FILE_B)).select("event_id").collect()
    assert first[0]["event_id"] == again[0]["event_id"]  # another file, another run: same id
    assert first[0]["event_id"] != first[1]["event_id"]  # one param differs: another id
    assert len(first[0]["event_id"]) == 64


# ---- PII -------------------------------------------------------------------------------------------------------


def test_email_and_phone_normalization(spark: SparkSession) -> None:
    values = [
        (" Jane.Doe@Example.COM ", "+1 (555) 123-4567"),
        ("jane.doe@example.com", "+1-555-123-4567"),
        ("unknown", "00 44 20 7946"),
        ("", "+44+20"),
        (None, "n/a"),
        ("NULL", "call me"),
    ]
    df = spark.createDataFrame(values, "email string, phone string")
    got = df.select(
        ingest.normalize_email(F.col("email")).alias("e"), ingest.normalize_phone(F.col("phone")).alias("p")
    ).collect()
    assert [(r["e"], r["p"]) for r in got] == [
        ("jane.doe@example.com", "+15551234567"),
        ("jane.doe@example.com", "+15551234567"),
        (None, "0044207946"),
        (None, "+4420"),
        (None, None),
        (None, None),
    ]


def test_pii_is_hashed_with_the_salt_and_never_written_raw(spark: SparkSession) -> None:
    raw_email, raw_phone = " Jane.Doe@Example.COM ", "+1 (555) 123-4567"
    form = ga4_row("generate_lead", params={"ga_session_id": 1, "email": raw_email, "phone": raw_phone})
    bad = ga4_row("generate_lead", ts=None, device="dev-9", params={"email": raw_email, "phone": raw_phone})
    tagged = tag(spark, [form, bad])
    accepted, quarantined = ingest.split_tagged(tagged, BRONZE_EVENTS_SCHEMA, "ga4", RUN_ID, INGESTED_AT)
    [a] = accepted.collect()
    assert a["hashed_email"] == sha(SALT + "jane.doe@example.com")
    assert a["hashed_phone"] == sha(SALT + "+15551234567")
    [q] = quarantined.collect()
    assert q["reason"] == ingest.NULL_TIMESTAMP
    written = json.dumps([r.asDict() for r in accepted.collect() + quarantined.collect()], default=str).lower()
    for secret in ("jane.doe", "example.com", "555", "123-4567"):
        assert secret not in written
    assert json.loads(q["raw_record"])["record"]["user_pseudo_id"] == "dev-9"  # the rest of the record is kept


def test_raw_ndjson_text_is_masked(spark: SparkSession) -> None:
    line = (
        '{"event_name":"x","event_params":[{"key":"email","value":{"string_value":"A@B.io"}},'
        '{"value":{"string_value":"+331234"},"key":"Phone"},{"key":"note","value":{"string_value":"mail c@d.org"}}]}'
    )
    [r] = spark.createDataFrame([(line,)], "t string").select(ingest.mask_pii_text(F.col("t")).alias("m")).collect()
    masked = r["m"]
    assert "A@B.io" not in masked and "+331234" not in masked and "c@d.org" not in masked
    assert '"key":"email"' in masked and '"event_name":"x"' in masked


# ---- validation ------------------------------------------------------------------------------------------------


def test_every_rule_and_its_boundary(spark: SparkSession) -> None:
    one_micro = timedelta(microseconds=1)
    rows = {
        "on_earliest": ga4_row(ts=LIMITS.earliest, device="d1"),
        "before_earliest": ga4_row(ts=LIMITS.earliest - one_micro, device="d2"),
        "on_latest": ga4_row(ts=LIMITS.latest, device="d3"),
        "after_latest": ga4_row(ts=LIMITS.latest + one_micro, device="d4"),
        "far_future": ga4_row(ts=2**62, device="d5"),
        "null_ts": ga4_row(ts=None, device="d6"),
        "null_device": ga4_row(device=None),
        "placeholder_device": ga4_row(device="(not set)"),
        "blank_name": ga4_row(name="  ", device="d7"),
        "null_name": ga4_row(name=None, device="d8"),
        "zero_revenue": ga4_row("purchase", device="d9", ecommerce={"purchase_revenue": 0.0}),
        "negative_revenue": ga4_row("purchase", device="d10", ecommerce={"purchase_revenue": -0.01}),
        "negative_value_param": ga4_row("purchase", device="d11", params={"value": -5.0}),
        # Two failures: the first in EVENT_REASONS order is reported.
        "device_and_revenue": ga4_row("purchase", device="", ecommerce={"purchase_revenue": -1.0}),
    }
    for case, row in rows.items():
        row["event_params"].append(param("page_title", case))  # the case name travels in a flat column
    tagged = tag(spark, list(rows.values()))
    got = {r["page_title"]: r["_reason"] for r in tagged.select("page_title", "_reason").collect()}
    [far] = tagged.where("page_title = 'far_future'").select("_quarantine_date").collect()
    assert far["_quarantine_date"] is None  # year 148108: not written as a date
    assert got == {
        "on_earliest": None,
        "before_earliest": ingest.TIMESTAMP_TOO_OLD,
        "on_latest": None,
        "after_latest": ingest.FUTURE_TIMESTAMP,
        "far_future": ingest.FUTURE_TIMESTAMP,
        "null_ts": ingest.NULL_TIMESTAMP,
        "null_device": ingest.MISSING_DEVICE_ID,
        "placeholder_device": ingest.MISSING_DEVICE_ID,
        "blank_name": ingest.MISSING_EVENT_NAME,
        "null_name": ingest.MISSING_EVENT_NAME,
        "zero_revenue": None,
        "negative_revenue": ingest.NEGATIVE_REVENUE,
        "negative_value_param": ingest.NEGATIVE_REVENUE,
        "device_and_revenue": ingest.MISSING_DEVICE_ID,
    }


def test_limits_come_from_as_of_and_config() -> None:
    limits = ingest.event_limits(datetime(2021, 1, 31, 12), "2019-05-01", 24)
    assert limits == EventLimits(earliest=datetime(2019, 5, 1), latest=datetime(2021, 2, 1, 12))


# ---- duplicates and accounting ---------------------------------------------------------------------------------


def test_exact_duplicates_are_removed_and_counted(spark: SparkSession) -> None:
    row = ga4_row(device="d1")
    near_copy = ga4_row(device="d1", event_bundle_sequence_id=2)  # one field differs: a different event
    bad = ga4_row(device="d2", ts=None)
    batch_a = ga4_frame(spark, [row, row, near_copy, bad], FILE_A)
    batch_b = ga4_frame(spark, [row, bad], FILE_B)  # the same rows again in a later file
    tagged = ingest.tag_ga4_events(batch_a.unionByName(batch_b), SALT, LIMITS)
    counts = {(r["source_file"], r["outcome"]): r["rows"] for r in ingest.outcome_counts(tagged).collect()}
    assert counts == {
        (FILE_A, "accepted"): 2,
        (FILE_A, "duplicate"): 1,
        (FILE_A, ingest.NULL_TIMESTAMP): 1,
        (FILE_B, "duplicate"): 2,
    }
    accepted, quarantined = ingest.split_tagged(tagged, BRONZE_EVENTS_SCHEMA, "ga4", RUN_ID, INGESTED_AT)
    assert accepted.count() + quarantined.count() + 3 == 6  # input = accepted + quarantined + duplicates
    assert accepted.select("event_id").distinct().count() == 2
    assert {r["source_file"] for r in accepted.collect()} == {FILE_A}  # the copy kept is the first file's
    assert quarantined.columns == BRONZE_QUARANTINE_SCHEMA.fieldNames()


def test_duplicate_purchases_are_flagged(spark: SparkSession) -> None:
    def purchase(device: str, ts: datetime, txn: str, seq: int) -> dict[str, Any]:
        return ga4_row(
            "purchase",
            ts,
            device=device,
            event_bundle_sequence_id=seq,
            ecommerce={"purchase_revenue": 10.0, "transaction_id": txn},
        )

    t0 = BASE_TS
    rows = [
        purchase("d1", t0, "T1", 1),
        purchase("d1", t0 + timedelta(seconds=5), "T1", 2),  # later: duplicate
        purchase("d2", t0, "T2", 1),
        purchase("d3", t0, "T2", 2),  # tie on time: event_id decides, exactly one is flagged
        purchase("d4", t0, "(not set)", 1),
        purchase("d5", t0, "(not set)", 2),  # placeholder: not one transaction, never flagged
        purchase("d6", t0, "T3", 1),  # T3 already in bronze from an earlier run
        ga4_row("page_view", t0, device="d7", ecommerce={"transaction_id": "T1"}),  # not a purchase
    ]
    accepted, _ = ingest.split_tagged(tag(spark, rows), BRONZE_EVENTS_SCHEMA, "ga4", RUN_ID, INGESTED_AT)
    accepted = accepted.cache()
    t3_key = accepted.where("transaction_id = 'T3'").first()["transaction_key"]  # type: ignore[index]
    prior = spark.createDataFrame(
        [("old-event", t3_key, micros(t0) + 10)], "event_id string, transaction_key long, event_ts_micros long"
    )
    flagged = ingest.flag_duplicate_purchases(accepted, prior)
    got = {(r["user_pseudo_id"], r["is_duplicate_purchase"]) for r in flagged.collect()}
    t2_ids = sorted(r["event_id"] for r in accepted.where("transaction_id = 'T2'").collect())
    first_t2 = {r["user_pseudo_id"] for r in accepted.where(F.col("event_id") == t2_ids[0]).collect()}
    assert flagged.columns == BRONZE_EVENTS_SCHEMA.fieldNames()
    assert got == {
        ("d1", False),
        ("d1", True),
        ("d2", "d2" not in first_t2),
        ("d3", "d3" not in first_t2),
        ("d4", False),
        ("d5", False),
        ("d6", True),  # bronze already has a purchase of T3, even a later one: bronze rows never change
        ("d7", False),
    }
    # A rerun finds the batch's own purchases in bronze: they are not "earlier", the flags stay the same.
    own = accepted.where("event_name = 'purchase'").select("event_id", "transaction_key", "event_ts_micros")
    rerun = ingest.flag_duplicate_purchases(accepted, own.unionByName(prior))
    assert {(r["user_pseudo_id"], r["is_duplicate_purchase"]) for r in rerun.collect()} == got
    accepted.unpersist()
