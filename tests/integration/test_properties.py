"""Property-based tests (hypothesis) of GA4 flattening and attribution invariants.

Each example is one small batch through Spark, so the example counts are small and the runs derandomized
(the same examples in CI every time); the session Spark fixture is shared.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from ga4_rows import ga4_frame, micros  # tests/ga4_rows.py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import attribution as attr
from journeylake import ingest, markov
from journeylake.config import AttributionConfig
from journeylake.ingest import EventLimits
from journeylake.placeholders import PLACEHOLDER_VALUES
from journeylake.schemas.attribution import MODELS
from journeylake.schemas.journeys import JOURNEY_TOUCHPOINTS_SCHEMA, USER_JOURNEYS_SCHEMA

pytestmark = pytest.mark.integration

PROPERTY_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- GA4 flattening ----------------------------------------------------------------------------------------------

SALT = "property-salt"
LIMITS = EventLimits(earliest=datetime(2015, 1, 1), latest=datetime(2021, 2, 1))
EMAILS = ("Ann.Lee@Example.com", "bob+tag@mail.example.net")
# Keys where forms and e-mail tools put addresses (they must never come out raw), and keys that hold other values.
PII_KEYS = ("email", "page_location", "page_title", "page_referrer", "source", "medium", "campaign", "ga_session_id")
OTHER_KEYS = ("value", "transaction_id", "unused_key")

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
devices = st.one_of(st.sampled_from(["d1", "d2", "(not set)", "", " "]), texts, st.none())
timestamps = st.one_of(
    st.none(),
    st.sampled_from([0, micros(LIMITS.earliest) - 1, micros(LIMITS.earliest), micros(LIMITS.latest), 2**62]),
    st.integers(min_value=micros(datetime(1969, 1, 1)), max_value=micros(datetime(2101, 1, 1))),
)
values = st.one_of(
    texts.map(lambda v: {"string_value": v}),
    st.integers(min_value=-(2**40), max_value=2**40).map(lambda v: {"int_value": v}),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: {"double_value": v}),
)
emails = st.sampled_from(EMAILS).map(lambda v: {"string_value": f"see {v}?x=1"})
params = st.lists(
    st.one_of(
        st.fixed_dictionaries({"key": st.sampled_from(PII_KEYS), "value": st.one_of(values, emails)}),
        st.fixed_dictionaries({"key": st.sampled_from(OTHER_KEYS), "value": values}),
    ),
    max_size=5,
)
records = st.fixed_dictionaries(
    {
        "event_timestamp": timestamps,
        "event_name": st.one_of(st.sampled_from(["page_view", "purchase", " "]), texts, st.none()),
        "user_pseudo_id": devices,
        "event_params": params,
    }
)
# Exact copies are part of real exports: some records are repeated.
batches = st.lists(st.tuples(records, st.integers(min_value=1, max_value=3)), min_size=1, max_size=8).map(
    lambda pairs: [record for record, copies in pairs for _ in range(copies)]
)


def _tagged(spark: SparkSession, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tagged rows: every text column, the tags, and the event time of accepted rows.

    Rejected rows may carry times Python cannot hold (year 148108); the pipeline never collects them.
    """
    raw = ga4_frame(spark, rows).withColumn("source_file", F.lit("file:/in/events_20210101.parquet"))
    tagged = ingest.tag_ga4_events(raw, SALT, LIMITS)
    texts = [f.name for f in tagged.schema if isinstance(f.dataType, T.StringType)]
    accepted = F.col(ingest.REASON).isNull() & ~F.col(ingest.IS_DUPLICATE)
    columns = [*texts, ingest.IS_DUPLICATE, "revenue", F.when(accepted, F.col("event_ts")).alias("event_ts")]
    return [r.asDict() for r in tagged.select(*columns).collect()]


@PROPERTY_SETTINGS
@given(batch=batches)
def test_flattening_accounts_for_every_row_and_never_keeps_a_bad_one(spark: SparkSession, batch: list[dict]) -> None:
    tagged = _tagged(spark, batch)
    assert len(tagged) == len(batch)  # one output row per input row
    distinct_records = {json.dumps(r, sort_keys=True) for r in batch}
    duplicates = [t for t in tagged if t[ingest.IS_DUPLICATE]]
    assert len(duplicates) == len(batch) - len(distinct_records)
    assert len({t[ingest.RECORD_ID] for t in tagged}) == len(distinct_records)
    for row in tagged:
        reason = row[ingest.REASON]
        if row[ingest.IS_DUPLICATE]:
            assert reason is None
        elif reason is None:  # accepted: every rule holds
            assert LIMITS.earliest <= row["event_ts"] <= LIMITS.latest
            # Spark's trim strips spaces only, and compares lower-cased.
            assert (row["user_pseudo_id"] or "").strip(" ").lower() not in PLACEHOLDER_VALUES
            assert (row["event_name"] or "").strip() != ""
            assert row["revenue"] is None or row["revenue"] >= 0
        else:
            assert reason in ingest.EVENT_REASONS and row[ingest.RAW_RECORD]
    # Raw e-mails survive nowhere: not in a flat column, not in a quarantined record.
    dumped = json.dumps(tagged, default=str, ensure_ascii=False).lower()
    assert not any(email.lower() in dumped for email in EMAILS)


@PROPERTY_SETTINGS
@given(batch=batches)
def test_flattening_is_deterministic_whatever_the_row_order(spark: SparkSession, batch: list[dict]) -> None:
    def outcome(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (t[ingest.RECORD_ID], t[ingest.REASON] or "", t[ingest.IS_DUPLICATE], t["hashed_email"] or "")
            for t in _tagged(spark, rows)
        )

    assert outcome(batch) == outcome(list(reversed(batch)))


# ---- attribution -------------------------------------------------------------------------------------------------

T0 = datetime(2024, 3, 31, 12, 0, 0)
CHANNELS = ("Paid Search", "Direct", "Email", "Organic Search", "Display")


def _row(schema: T.StructType, values: dict[str, Any]) -> tuple[Any, ...]:
    fillers = {T.StringType(): "", T.LongType(): 1, T.IntegerType(): 1, T.DoubleType(): 0.0, T.BooleanType(): False}
    fillers |= {T.TimestampType(): T0, T.DateType(): T0.date()}
    return tuple(values.get(f.name, None if f.nullable else fillers[f.dataType]) for f in schema)


touch_ages = st.lists(
    st.tuples(st.sampled_from(CHANNELS), st.integers(min_value=-2, max_value=45 * 24), st.booleans()), max_size=6
)
journey_specs = st.lists(
    st.tuples(
        touch_ages, st.sampled_from(["converted", "converted", "open"]), st.sampled_from([None, 0.0, 19.9, 250.0])
    ),
    min_size=1,
    max_size=5,
)
configs = st.builds(
    lambda lookback, half_life, first, last: AttributionConfig(
        lookback_days=lookback, half_life_days=half_life, position_first_weight=first, position_last_weight=last
    ),
    st.integers(min_value=1, max_value=60),
    st.floats(min_value=0.01, max_value=60.0),
    st.sampled_from([0.0, 0.2, 0.4, 0.5]),
    st.sampled_from([0.0, 0.3, 0.4, 0.5]),
)


def _journeys(spark: SparkSession, specs: list[tuple[Any, ...]]) -> tuple[DataFrame, DataFrame]:
    touches, journeys = [], []
    for j, (ages, status, value) in enumerate(specs):
        journey_id = f"j{j}"
        conversion_ts = T0 if status == "converted" else None
        for position, (channel, hours, tie) in enumerate(ages, start=1):
            # A tie puts the touch on the previous touch's time; negative ages are touches after the conversion.
            ts = T0 - timedelta(hours=0 if tie and position > 1 else hours)
            values = {"touchpoint_id": f"{journey_id}-{position}", "journey_id": journey_id, "touch_ts": ts}
            values |= {"touch_date": ts.date(), "position": position, "channel": channel, "interaction_type": "visit"}
            touches.append(_row(JOURNEY_TOUCHPOINTS_SCHEMA, values))
        if conversion_ts is not None:
            values = {"touchpoint_id": f"{journey_id}-c", "journey_id": journey_id, "touch_ts": T0, "channel": "Direct"}
            values |= {"position": len(ages) + 1, "interaction_type": "conversion", "is_conversion": True}
            touches.append(_row(JOURNEY_TOUCHPOINTS_SCHEMA, values))
        journeys.append(
            _row(
                USER_JOURNEYS_SCHEMA,
                {"journey_id": journey_id, "status": status, "conversion_ts": conversion_ts, "conversion_value": value}
                | {"start_ts": T0 - timedelta(days=90), "last_activity_ts": T0},
            )
        )
    return (
        spark.createDataFrame(touches, JOURNEY_TOUCHPOINTS_SCHEMA),
        spark.createDataFrame(journeys, USER_JOURNEYS_SCHEMA),
    )


@PROPERTY_SETTINGS
@given(specs=journey_specs, config=configs)
def test_credits_of_every_conversion_and_model_sum_to_one_and_are_never_negative(
    spark: SparkSession, specs: list[tuple[Any, ...]], config: AttributionConfig
) -> None:
    touchpoints, journeys = _journeys(spark, specs)
    conversions = attr.conversions_from_journeys(journeys, touchpoints)
    labelled = attr.label_touches(conversions, touchpoints, config).cache()
    try:
        effects = attr.markov_removal_effects(
            attr.markov_transition_counts(attr.markov_path_touches(labelled, touchpoints, journeys), 1)
        ).removal_effects
        by_channel = attr.eligible_touches_by_channel(labelled)
        groups = markov.channel_buckets(by_channel, config.shapley_max_channels)
        shapley = attr.shapley_from_sets(
            attr.channel_set_conversions(labelled, attr.channel_weights_frame(labelled, {}, groups))
        )
        result = attr.attribute_conversions(
            conversions,
            labelled,
            config,
            attr.channel_weights_frame(labelled, effects, {c: c for c in by_channel}),
            attr.channel_weights_frame(labelled, shapley, groups),
        )
        rows = result.collect()
        converted = {f"j{j}" for j, (_, status, _) in enumerate(specs) if status == "converted"}
        assert {(r["conversion_id"], r["model"]) for r in rows} == {(c, m) for c in converted for m in MODELS}
        assert all(r["credit"] >= 0.0 and r["credited_value"] >= 0.0 for r in rows)
        assert all(r["credit"] == 0.0 for r in rows if not r["included"])
        assert attr.credit_sum_violations(result).count() == 0  # included credits sum to 1, values to the value
    finally:
        labelled.unpersist()
