"""Our sessions against GA4's own, on the real sample export (all 32 daily files, 1.1M events).

A GA4 session (user_pseudo_id, ga_session_id: the id is unique per device only) *agrees* when all of its events are
in one of our sessions and that session has no other events. ga_session_id is never an input of the rule.

Measured with the shipped rule (gap > 30 min, or a session_start marker; marker first on ties), all 32 days:
113,566 of 113,943 GA4 sessions agree (99.67%). The gap-only rule (no markers) agrees on 97.85%: GA4 opens
sessions that our clock would merge, and it says so with session_start. The sample holds no gap of exactly
30 minutes, so "> 30 min" and ">= 30 min" agree equally; we keep "> 30" (GA4 ends a session *after* 30 minutes).

Every known kind of disagreement (377 sessions, 0.33%):

1. Interleaved GA4 sessions (most of the ~230 sessions we split that have one session_start): 102 GA4 sessions
   overlap an earlier session of the same device (two tabs, or a session restored in a second window), so their
   events alternate in time; a time-ordered rule cannot interleave two sessions, so both sides are split or merged.
2. Gaps over 30 minutes inside one GA4 session (71 sessions): GA4 keeps a session alive with engagement timers
   and late hits of a backgrounded tab, where we see 30 idle minutes and open a new session.
3. Duplicate session_start markers (31 sessions have 2 to 4 of them): a restored tab logs the marker again under
   the same ga_session_id; we open a session at each marker.
4. Sessions without a session_start (1,242 in the sample; most agree because their first event is more than
   30 minutes after the previous one): when one follows another session of the device within 30 minutes we merge
   it into that session (the ~110 sessions "merged, not split").
"""

from __future__ import annotations

import pytest
from conftest import GA4_SAMPLE_DIR, requires_ga4_sample
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import SessionConfig
from journeylake.keys import key_of
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA
from journeylake.sessions import sessionize_events

pytestmark = [pytest.mark.integration, pytest.mark.slow, requires_ga4_sample]

MIN_AGREEMENT = 0.99


def _param_long(key: str) -> F.Column:
    return F.expr(f"get(filter(event_params, p -> p.key = '{key}'), 0).value.int_value")


def test_sessions_agree_with_ga4_session_ids(spark: SparkSession) -> None:
    raw = spark.read.schema(GA4_EXPORT_SCHEMA).parquet(str(GA4_SAMPLE_DIR))
    device = key_of("device", F.col("user_pseudo_id"))
    events = raw.select(
        # Only what sessionization needs; the event id hashes the whole record, as ingestion's does.
        F.xxhash64(*[c for c in raw.columns if c != "user_properties"]).cast("string").alias("event_id"),
        F.col("event_timestamp").alias("event_ts_micros"),
        "event_name",
        F.col("event_bundle_sequence_id").alias("event_seq"),
        "user_pseudo_id",
        device.alias("device_key"),
        device.alias("canonical_user_id"),
        _param_long("ga_session_id").alias("ga_session_id"),
    )
    ours = sessionize_events(events, SessionConfig()).select("user_pseudo_id", "ga_session_id", "session_id")
    ours = ours.persist()
    session_sizes = ours.groupBy("session_id").agg(F.count(F.lit(1)).alias("our_events"))
    ga4 = (
        ours.where(F.col("ga_session_id").isNotNull())
        .groupBy("user_pseudo_id", "ga_session_id")
        .agg(
            F.count(F.lit(1)).alias("ga_events"),
            F.countDistinct("session_id").alias("our_sessions"),
            F.min("session_id").alias("session_id"),
        )
        .join(session_sizes, on="session_id", how="inner")
    )
    split = F.col("our_sessions") > 1
    merged = ~split & (F.col("our_events") > F.col("ga_events"))
    counts = ga4.agg(
        F.count(F.lit(1)).alias("ga_sessions"),
        F.sum(F.when(~split & ~merged, 1).otherwise(0)).alias("agree"),
        F.sum(F.when(split, 1).otherwise(0)).alias("split"),
        F.sum(F.when(merged, 1).otherwise(0)).alias("merged"),
    ).first()
    assert counts is not None
    rate = counts["agree"] / counts["ga_sessions"]
    print(
        f"GA4 session agreement: {counts['agree']}/{counts['ga_sessions']} = {rate:.4%} "
        f"(split by us: {counts['split']}, merged with another: {counts['merged']})"
    )
    ours.unpersist()
    assert rate >= MIN_AGREEMENT
