"""Building the touch stream: people from the identity map, engagement and conversion touches, ad touches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import SessionConfig
from journeylake.journeys import (
    ad_touches,
    device_persons,
    event_touches,
    gclid_persons,
    latest_ad_touches,
    with_person,
)
from journeylake.schemas.bronze import BRONZE_AD_TOUCHPOINTS_SCHEMA, BRONZE_EVENTS_SCHEMA
from journeylake.sessions import sessionize_events, summarize_sessions

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 1, 12, 0, 0)


def identity_map(spark: SparkSession) -> Any:
    return spark.createDataFrame(
        [("device", "dA", 1), ("device", "dB", 1), ("gclid", "g1", 2)],
        "id_type string, id_value string, canonical_user_id long",
    )


def test_people_come_from_device_then_gclid_then_the_device_itself(spark: SparkSession) -> None:
    imap = identity_map(spark)
    touches = spark.createDataFrame(
        [
            ("t1", "dA", 11, "g1"),  # the device wins over the gclid
            ("t2", None, None, "g1"),  # only a gclid
            ("t3", "dZ", 99, None),  # unknown device: a device-level person
            ("t4", None, None, "g-unknown"),  # nobody
        ],
        "touch_id string, user_pseudo_id string, device_key long, gclid string",
    )
    out = with_person(touches, device_persons(imap), gclid_persons(imap))
    got = {r["touch_id"]: (r["canonical_user_id"], r["person_resolution"]) for r in out.collect()}
    assert got == {"t1": (1, "identity"), "t2": (2, "gclid"), "t3": (99, "device_fallback"), "t4": (None, "unresolved")}


def event(device: str, at: datetime, name: str, event_id: str, **values: Any) -> tuple:
    micros = int((at - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    row: dict[str, Any] = {f.name: None for f in BRONZE_EVENTS_SCHEMA.fields}
    row.update(
        event_id=event_id,
        source="ga4",
        event_date=at.date(),
        event_ts=at,
        event_ts_micros=micros,
        event_name=name,
        user_pseudo_id=device,
        device_key=7,
        is_duplicate_purchase=False,
        ingest_run_id="b1",
        ingested_at=at,
    )
    row.update(values)
    return tuple(row[f.name] for f in BRONZE_EVENTS_SCHEMA.fields)


def test_engagement_touches_are_the_first_of_each_kind_per_session_and_duplicates_never_convert(
    spark: SparkSession,
) -> None:
    s = timedelta(seconds=1)
    rows = [
        event("dA", T0, "page_view", "pv", traffic_source="google", traffic_medium="cpc", channel="Paid Search"),
        event("dA", T0 + s, "view_item", "v1"),
        event("dA", T0 + s, "view_item", "v0"),  # tie with v1: the smaller event_id is first
        event("dA", T0 + 2 * s, "add_to_cart", "c1"),
        event("dA", T0 + 3 * s, "purchase", "p1", revenue=30.0, transaction_id="t1"),
        event("dA", T0 + 4 * s, "purchase", "p2", revenue=30.0, transaction_id="t1", is_duplicate_purchase=True),
        event("dA", T0 + 5 * s, "begin_checkout", "k1"),
        event("dA", T0 + 6 * s, "sign_up", "u1"),
        event("dA", T0 + 7 * s, "view_item", "v2"),  # second view of the session: no touch
        event("dA", T0 + timedelta(hours=2), "view_item", "v3"),  # a new session: a touch again
    ]
    events = spark.createDataFrame(rows, BRONZE_EVENTS_SCHEMA).withColumn("canonical_user_id", F.lit(1).cast("long"))
    sessionized = sessionize_events(events, SessionConfig())
    sessions = summarize_sessions(sessionized, SessionConfig())
    out = event_touches(sessionized, sessions)
    got = {
        r["touchpoint_id"]: (
            r["interaction_type"],
            r["trigger"],
            r["channel"],
            r["is_conversion"],
            r["conversion_value"],
        )
        for r in out.collect()
    }
    assert got == {
        "v0": ("engagement", "product_view", "Paid Search", False, None),
        "c1": ("engagement", "add_to_cart", "Paid Search", False, None),
        "p1": ("conversion", "purchase", "Paid Search", True, 30.0),
        "k1": ("engagement", "checkout", "Paid Search", False, None),
        "u1": ("engagement", "sign_up", "Paid Search", False, None),
        "v3": ("engagement", "product_view", "Direct", False, None),
    }


def ad_row(touch_id: str, at: datetime, run: str, cost: float | None, record_hash: str) -> tuple:
    row: dict[str, Any] = {f.name: None for f in BRONZE_AD_TOUCHPOINTS_SCHEMA.fields}
    row.update(
        touch_id=touch_id,
        touch_ts=at,
        interaction="click",
        channel=None,
        source="google",
        medium="cpc",
        campaign="c",
        user_pseudo_id="dA",
        device_key=11,
        cost=cost,
        touch_date=at.date(),
        record_hash=record_hash,
        ingest_run_id=run,
        ingested_at=at + timedelta(days=1 if run == "b1" else 2),
    )
    return tuple(row[f.name] for f in BRONZE_AD_TOUCHPOINTS_SCHEMA.fields)


def test_a_resent_ad_touch_keeps_its_latest_version_and_missing_cost_is_zero(spark: SparkSession) -> None:
    ads = spark.createDataFrame(
        [ad_row("a1", T0, "b1", 2.0, "h1"), ad_row("a1", T0, "b2", None, "h2"), ad_row("a2", T0, "b1", 1.0, "h3")],
        BRONZE_AD_TOUCHPOINTS_SCHEMA,
    )
    latest = latest_ad_touches(ads).withColumn("canonical_user_id", F.lit(1).cast("long"))
    got = {r["touchpoint_id"]: (r["cost"], r["channel"], r["interaction_type"]) for r in ad_touches(latest).collect()}
    assert got == {"a1": (0.0, "Unassigned", "click"), "a2": (1.0, "Unassigned", "click")}
