"""Sessions per device: the inactivity rule, session_start markers, ties, and the session summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.config import SessionConfig
from journeylake.keys import key_of
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA
from journeylake.sessions import engagement_score, sessionize_events, summarize_sessions

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 1, 23, 40, 0)
CONFIG = SessionConfig()


def event(device: str, at: datetime, name: str = "page_view", event_id: str | None = None, **values: Any) -> dict:
    micros = int((at - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    row: dict[str, Any] = {f.name: None for f in BRONZE_EVENTS_SCHEMA.fields}
    row.update(
        event_id=event_id or f"{device}-{name}-{micros}",
        source="ga4",
        event_date=at.date(),
        event_ts=at,
        event_ts_micros=micros,
        event_name=name,
        user_pseudo_id=device,
        device_key=0,
        is_duplicate_purchase=False,
        ingest_run_id="batch-1",
        ingested_at=T0,
    )
    row.update(values)
    return row


def frame(spark: SparkSession, rows: list[dict]) -> DataFrame:
    df = spark.createDataFrame(
        [tuple(r[f.name] for f in BRONZE_EVENTS_SCHEMA.fields) for r in rows], BRONZE_EVENTS_SCHEMA
    )
    device_key = key_of("device", F.col("user_pseudo_id"))
    return df.withColumn("device_key", device_key).withColumn("canonical_user_id", device_key)


def session_of(spark: SparkSession, rows: list[dict], config: SessionConfig = CONFIG) -> dict[str, int]:
    """event_id -> 0-based index of its session in time order (per the whole input)."""
    out = sessionize_events(frame(spark, rows), config).select("event_id", "session_id", "session_start_micros")
    collected = out.collect()
    starts = sorted({(r["session_start_micros"], r["session_id"]) for r in collected})
    index = {sid: i for i, (_, sid) in enumerate(starts)}
    return {r["event_id"]: index[r["session_id"]] for r in collected}


def test_a_gap_of_exactly_the_timeout_continues_the_session(spark: SparkSession) -> None:
    rows = [
        event("d1", T0, event_id="a"),
        event("d1", T0 + timedelta(minutes=30), event_id="b"),  # exactly 30 min: same session (GA4)
        event("d1", T0 + timedelta(minutes=60, microseconds=1), event_id="c"),  # 30 min + 1 µs: new session
    ]
    assert session_of(spark, rows) == {"a": 0, "b": 0, "c": 1}


def test_the_timeout_is_configurable(spark: SparkSession) -> None:
    rows = [event("d1", T0, event_id="a"), event("d1", T0 + timedelta(minutes=11), event_id="b")]
    assert session_of(spark, rows, SessionConfig(session_timeout_minutes=10)) == {"a": 0, "b": 1}
    assert session_of(spark, rows, SessionConfig(session_timeout_minutes=11)) == {"a": 0, "b": 0}


def test_session_start_marker_opens_a_session_and_sorts_first_on_a_tie(spark: SparkSession) -> None:
    tie = T0 + timedelta(minutes=5)
    rows = [
        event("d1", T0, event_id="a"),
        # Same microsecond as the marker and a smaller bundle sequence: still after the marker, in its session.
        event("d1", tie, "page_view", event_id="b", event_seq=1),
        event("d1", tie, "session_start", event_id="c", event_seq=2),
        event("d1", tie, "first_visit", event_id="d", event_seq=2),
    ]
    assert session_of(spark, rows) == {"a": 0, "b": 1, "c": 1, "d": 1}


def test_no_split_at_midnight_or_on_a_campaign_change(spark: SparkSession) -> None:
    rows = [
        event("d1", T0 + timedelta(minutes=15), event_id="a", traffic_source="google", traffic_medium="cpc"),
        event("d1", T0 + timedelta(minutes=25), event_id="b", traffic_source="newsletter", traffic_medium="email"),
    ]
    assert rows[0]["event_date"] != rows[1]["event_date"]
    assert session_of(spark, rows) == {"a": 0, "b": 0}


def test_devices_are_sessionized_separately(spark: SparkSession) -> None:
    rows = [event("d1", T0, event_id="a"), event("d2", T0 + timedelta(minutes=1), event_id="b")]
    assert session_of(spark, rows) == {"a": 0, "b": 1}


def test_ties_on_the_same_microsecond_give_the_same_session_ids_in_any_input_order(spark: SparkSession) -> None:
    rows = [event("d1", T0, "page_view", event_id=f"e{i}", event_seq=None) for i in range(4)]
    rows.append(event("d1", T0 + timedelta(hours=2), event_id="late"))
    first = sessionize_events(frame(spark, rows), CONFIG).select("event_id", "session_id").collect()
    second = sessionize_events(frame(spark, rows[::-1]).repartition(2), CONFIG).select("event_id", "session_id")
    assert sorted(map(tuple, first)) == sorted(map(tuple, second.collect()))
    ids = {r["event_id"]: r["session_id"] for r in first}
    assert len({ids[f"e{i}"] for i in range(4)}) == 1 and ids["late"] != ids["e0"]


def test_every_event_is_in_exactly_one_session(spark: SparkSession) -> None:
    rows = [event("d1", T0 + timedelta(minutes=17 * i), event_id=f"e{i}") for i in range(12)]
    rows += [event("d2", T0 + timedelta(minutes=45 * i), event_id=f"f{i}") for i in range(5)]
    sessionized = sessionize_events(frame(spark, rows), CONFIG)
    assert sessionized.count() == len(rows)
    assert sessionized.where(F.col("session_id").isNull()).count() == 0
    summary = summarize_sessions(sessionized, CONFIG)
    assert summary.agg(F.sum("event_count")).first()[0] == len(rows)  # type: ignore[index]


def summarize(spark: SparkSession, rows: list[dict]) -> list[dict]:
    out = summarize_sessions(sessionize_events(frame(spark, rows), CONFIG), CONFIG).orderBy("session_start_micros")
    return [r.asDict() for r in out.collect()]


def test_session_channel_is_the_first_non_direct_source(spark: SparkSession) -> None:
    rows = [
        event("d1", T0, "session_start", event_id="a"),  # carries no source, like GA4's
        event(
            "d1", T0, "page_view", event_id="b", traffic_source="(direct)", traffic_medium="(none)", channel="Direct"
        ),
        event(
            "d1",
            T0 + timedelta(seconds=5),
            event_id="c",
            traffic_source="google",
            traffic_medium="cpc",
            traffic_campaign="spring",
            channel="Paid Search",
        ),
        event(
            "d1",
            T0 + timedelta(seconds=9),
            event_id="d",
            traffic_source="fb",
            traffic_medium="social",
            channel="Organic Social",
        ),
        # A second, all-direct session.
        event("d1", T0 + timedelta(hours=3), event_id="e", traffic_source="(direct)", traffic_medium="(none)"),
    ]
    first, second = summarize(spark, rows)
    assert (first["channel"], first["traffic_source"], first["traffic_medium"], first["campaign"]) == (
        "Paid Search",
        "google",
        "cpc",
        "spring",
    )
    assert (second["channel"], second["traffic_source"], second["traffic_medium"], second["campaign"]) == (
        "Direct",
        "(direct)",
        "(none)",
        None,
    )


def test_engaged_at_exactly_ten_seconds_and_not_below(spark: SparkSession) -> None:
    rows = [
        event("d1", T0, event_id="a", engagement_time_msec=9_999, page_location="https://s/landing"),
        event("d2", T0, event_id="b", engagement_time_msec=10_000),
        event("d3", T0, "user_engagement", event_id="c", engagement_time_msec=None),  # null time counts as 0
    ]
    by_device = {r["user_pseudo_id"]: r for r in summarize(spark, rows)}
    assert [by_device[d]["is_engaged"] for d in ("d1", "d2", "d3")] == [False, True, False]
    assert by_device["d3"]["engagement_seconds"] == 0.0
    assert by_device["d1"]["landing_page"] == "https://s/landing"


def test_engaged_by_two_page_views_or_a_conversion_but_not_a_duplicate_purchase(spark: SparkSession) -> None:
    rows = [
        event("d1", T0, event_id="a", page_location="https://s/1"),
        event("d1", T0 + timedelta(seconds=1), event_id="b", page_location="https://s/2"),
        event("d2", T0, "purchase", event_id="c", revenue=20.0, transaction_id="t1"),
        event("d3", T0, "purchase", event_id="d", revenue=20.0, transaction_id="t1", is_duplicate_purchase=True),
    ]
    by_device = {r["user_pseudo_id"]: r for r in summarize(spark, rows)}
    assert (by_device["d1"]["is_engaged"], by_device["d1"]["page_views"], by_device["d1"]["landing_page"]) == (
        True,
        2,
        "https://s/1",
    )
    assert (by_device["d2"]["is_engaged"], by_device["d2"]["conversions"], by_device["d2"]["revenue"]) == (
        True,
        1,
        20.0,
    )
    assert (by_device["d3"]["is_engaged"], by_device["d3"]["conversions"], by_device["d3"]["revenue"]) == (
        False,
        0,
        0.0,
    )


def test_session_boundaries_and_counts(spark: SparkSession) -> None:
    rows = [
        event("d1", T0, "session_start", event_id="a", ga_session_id=111, device_category="mobile"),
        event("d1", T0 + timedelta(seconds=3), "scroll", event_id="b", ga_session_id=111),
        event("d1", T0 + timedelta(seconds=7), "add_to_cart", event_id="c", ga_session_id=111),
    ]
    (only,) = summarize(spark, rows)
    assert (only["session_start_ts"], only["session_end_ts"]) == (T0, T0 + timedelta(seconds=7))
    assert (only["event_count"], only["scroll_events"], only["interaction_events"]) == (3, 1, 1)
    assert (only["first_event_id"], only["ga_session_id"], only["device_category"]) == ("a", 111, "mobile")


def test_engagement_score_reference_values(spark: SparkSession) -> None:
    cases = [  # (seconds, scrolls, page views, interactions) -> score
        ((0, 0, 0, 0), 0.0),
        ((30, 1, 1, 0), 0.4 * 0.5 + 0.2 * 0.5 + 0.2 * 0.2),
        ((60, 2, 5, 3), 1.0),
        ((600, 20, 50, 30), 1.0),  # every part saturates
    ]
    df = spark.createDataFrame([c for c, _ in cases], "s long, sc int, pv int, it int")
    got = df.select(engagement_score(F.col("s"), F.col("sc"), F.col("pv"), F.col("it")).alias("x")).collect()
    assert [round(r["x"], 9) for r in got] == [round(v, 9) for _, v in cases]
