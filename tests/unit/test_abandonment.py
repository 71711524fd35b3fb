"""Abandonment rules and precedence, the penalty worked cases, the conversion model, funnels, competitor impact."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from journeylake.abandonment import (
    cart_abandonment_daily,
    competitor_exposure_outcomes,
    competitor_impact,
    detect_abandonment,
    fit_conversion_model,
    funnel_daily,
    journey_features,
    score_journeys,
    session_funnel,
    tie_exposures,
    with_penalty,
)
from journeylake.config import AbandonmentConfig, JourneyConfig
from journeylake.schemas.abandonment import (
    CART_ABANDONMENT_DAILY_SCHEMA,
    COMPETITOR_IMPACT_SCHEMA,
    FUNNEL_DAILY_SCHEMA,
    JOURNEY_FEATURES_SCHEMA,
    REASON_PRECEDENCE,
)
from journeylake.schemas.journeys import (
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    USER_JOURNEYS_SCHEMA,
)
from journeylake.schemas.sources import AD_COST_DAILY_SCHEMA, COMPETITOR_EXPOSURES_SCHEMA

pytestmark = pytest.mark.unit

AS_OF = datetime(2024, 3, 20, 12, 0, 0)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
TIMEOUT = timedelta(days=14)
MAX_JOURNEY = timedelta(days=90)
START = datetime(2024, 3, 1, 0, 0, 0)
TIED_EXPOSURES_DDL = "journey_id string, exposure_ts timestamp, match_status string"


# ---- builders -------------------------------------------------------------------------------------------------


# Non-nullable columns a test does not care about get these; the contracts may grow columns without breaking tests.
TYPE_DEFAULTS: dict[type, Any] = {
    T.StringType: "",
    T.IntegerType: 0,
    T.LongType: 0,
    T.DoubleType: 0.0,
    T.BooleanType: False,
    T.TimestampType: START,
    T.DateType: START.date(),
}


def row_of(schema: T.StructType, **values: Any) -> tuple[Any, ...]:
    """A tuple in ``schema``'s column order from named values; unnamed columns get null or a type default."""
    unknown = set(values) - set(schema.fieldNames())
    assert not unknown, f"not in the schema: {unknown}"
    return tuple(
        values[f.name] if f.name in values else (None if f.nullable else TYPE_DEFAULTS[type(f.dataType)])
        for f in schema.fields
    )


def journey(
    journey_id: str,
    state: str,
    last: datetime,
    status: str = "open",
    start: datetime = START,
    end: datetime | None = None,
    timeout_at: datetime | None = None,
    spend: float = 0.0,
    user: int = 1,
    conversion_ts: datetime | None = None,
    conversion_value: float | None = None,
) -> tuple[Any, ...]:
    return row_of(
        USER_JOURNEYS_SCHEMA,
        journey_id=journey_id,
        canonical_user_id=user,
        journey_seq=1,
        start_ts=start,
        last_activity_ts=last,
        end_ts=end,
        timeout_at=timeout_at or last + TIMEOUT,
        status=status,
        current_state=state,
        touchpoints=1,
        sessions=1,
        devices=1,
        conversion_ts=conversion_ts,
        conversion_value=conversion_value,
        spend=spend,
        updated_run_id="r0",
        max_end_at=start + MAX_JOURNEY,
    )


def touch(
    journey_id: str,
    position: int,
    ts: datetime,
    interaction: str = "visit",
    channel: str = "Direct",
    campaign: str | None = None,
    cost: float = 0.0,
    value: float | None = None,
) -> tuple[Any, ...]:
    return row_of(
        JOURNEY_TOUCHPOINTS_SCHEMA,
        touchpoint_id=f"{journey_id}-t{position}",
        journey_id=journey_id,
        canonical_user_id=1,
        touch_ts=ts,
        touch_date=ts.date(),
        position=position,
        source="ga4",
        channel=channel,
        campaign=campaign,
        interaction_type=interaction,
        cost=cost,
        device_key=7,
        is_conversion=interaction == "conversion",
        conversion_value=value,
    )


def transition(journey_id: str, seq: int, from_state: str, to_state: str, ts: datetime) -> tuple[Any, ...]:
    return row_of(
        JOURNEY_STATE_TRANSITIONS_SCHEMA,
        journey_id=journey_id,
        seq=seq,
        canonical_user_id=1,
        from_state=from_state,
        to_state=to_state,
        trigger="rule",
        transition_ts=ts,
        confidence=1.0,
    )


def frames(
    spark: SparkSession,
    journeys: list[tuple[Any, ...]],
    touches: list[tuple[Any, ...]] | None = None,
    transitions: list[tuple[Any, ...]] | None = None,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    return (
        spark.createDataFrame(journeys, USER_JOURNEYS_SCHEMA),
        spark.createDataFrame(touches or [], JOURNEY_TOUCHPOINTS_SCHEMA),
        spark.createDataFrame(transitions or [], JOURNEY_STATE_TRANSITIONS_SCHEMA),
    )


# ---- detection: one designed set of journeys, one detection run, a test per rule --------------------------------

IDLE_80H = AS_OF - 80 * HOUR
LAST_DAY = IDLE_80H.date()
RECENT = AS_OF - 5 * HOUR


def _impressions(journey_id: str, first_position: int, count: int, last: datetime) -> list[tuple[Any, ...]]:
    return [
        touch(journey_id, first_position + i, last - (count - 1 - i) * timedelta(minutes=1), "impression", "Display")
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def detections(spark: SparkSession) -> dict[str, tuple[str, list[str], str, datetime]]:
    journeys = [
        # inactive: exactly 72 h idle in CONSIDERING fires; 72 h minus a second does not; AWARE never does
        journey("inact_exact", "CONSIDERING", AS_OF - 72 * HOUR),
        journey("inact_under", "INTENT", AS_OF - 72 * HOUR + timedelta(seconds=1)),
        journey("inact_aware", "AWARE", IDLE_80H),
        # timed out: already by the journeys stage, and exactly at timeout_at
        journey("to_status", "AWARE", AS_OF - 20 * DAY, status="timed_out", end=AS_OF - 6 * DAY),
        journey("to_exact", "AWARE", AS_OF - TIMEOUT),
        journey("to_considering", "CONSIDERING", AS_OF - 20 * DAY, status="timed_out", end=AS_OF - 6 * DAY),
        # manual: active journey listed; a converted one listed is left alone
        journey("man", "AWARE", AS_OF - HOUR),
        journey("conv_manual", "CONVERTED", AS_OF - HOUR, status="converted", end=AS_OF - HOUR),
        # fatigue: 10 impressions since the last click fire; 9 do not; 10 with no response at all fire
        journey("fat_exact", "AWARE", RECENT),
        journey("fat_under", "AWARE", RECENT),
        journey("fat_noresp", "AWARE", RECENT),
        # budget: capped exactly at the budget; under it; capped but not stalled; null budget; mixed campaigns
        journey("bud", "AWARE", IDLE_80H),
        journey("bud_under", "AWARE", IDLE_80H),
        journey("bud_fresh", "AWARE", RECENT),
        journey("bud_nullbudget", "AWARE", IDLE_80H),
        journey("bud_mixed", "AWARE", IDLE_80H),
        # competitor: exposure then nothing; exposure then progress; progress at the very same instant; not stalled
        journey("comp", "AWARE", IDLE_80H),
        journey("comp_progress", "AWARE", IDLE_80H),
        journey("comp_tie", "AWARE", IDLE_80H),
        journey("comp_fresh", "AWARE", RECENT),
        # precedence
        journey("prec_all", "INTENT", AS_OF - TIMEOUT - HOUR),
        journey("prec_cbfi", "CONSIDERING", IDLE_80H),
        journey("prec_bfi", "CONSIDERING", IDLE_80H),
        journey("prec_fi", "INTENT", IDLE_80H),
    ]
    touches = [
        touch("fat_exact", 1, RECENT - DAY, "click", "Paid Search"),
        *_impressions("fat_exact", 2, 10, RECENT),
        touch("fat_under", 1, RECENT - DAY, "click", "Paid Search"),
        *_impressions("fat_under", 2, 9, RECENT),
        *_impressions("fat_noresp", 1, 10, RECENT),
        touch("bud", 1, IDLE_80H, "click", "Display", "c_capped"),
        touch("bud_under", 1, IDLE_80H, "click", "Display", "c_under"),
        touch("bud_fresh", 1, RECENT, "click", "Display", "c_capped_today"),
        touch("bud_nullbudget", 1, IDLE_80H, "click", "Display", "c_nobudget"),
        touch("bud_mixed", 1, IDLE_80H - HOUR, "click", "Display", "c_capped"),
        touch("bud_mixed", 2, IDLE_80H, "click", "Display", "c_under"),
        touch("prec_all", 1, AS_OF - TIMEOUT - 2 * HOUR, "click", "Display", "c_capped_all"),
        *_impressions("prec_all", 2, 10, AS_OF - TIMEOUT - HOUR),
        touch("prec_cbfi", 1, IDLE_80H - HOUR, "click", "Display", "c_capped"),
        *_impressions("prec_cbfi", 2, 10, IDLE_80H),
        touch("prec_bfi", 1, IDLE_80H - HOUR, "click", "Display", "c_capped"),
        *_impressions("prec_bfi", 2, 10, IDLE_80H),
        *_impressions("prec_fi", 1, 10, IDLE_80H),
    ]
    exposure_at = IDLE_80H - 10 * HOUR
    transitions = [
        transition("comp", 1, "UNAWARE", "AWARE", exposure_at - HOUR),
        transition("comp_progress", 1, "UNAWARE", "AWARE", exposure_at + HOUR),
        transition("comp_tie", 1, "UNAWARE", "AWARE", exposure_at),
    ]
    exposures = spark.createDataFrame(
        [
            ("comp", exposure_at, "matched"),
            ("comp_progress", exposure_at, "matched"),
            ("comp_tie", exposure_at, "matched"),
            ("comp_fresh", RECENT - HOUR, "matched"),
            ("prec_all", AS_OF - TIMEOUT - 2 * HOUR, "matched"),
            ("prec_cbfi", exposure_at, "matched"),
            ("inact_aware", exposure_at, "no_journey"),  # not tied: never evidence
        ],
        TIED_EXPOSURES_DDL,
    )
    prec_all_day = (AS_OF - TIMEOUT - HOUR).date()
    cost = spark.createDataFrame(
        [
            (LAST_DAY, "Display", "c_capped", 60.0, 100.0, "USD"),
            (LAST_DAY, "Display", "c_capped", 40.0, 100.0, "USD"),  # split rows add up to exactly the budget
            (LAST_DAY, "Display", "c_under", 99.99, 100.0, "USD"),
            (RECENT.date(), "Display", "c_capped_today", 500.0, 100.0, "USD"),
            (LAST_DAY, "Display", "c_nobudget", 500.0, None, "USD"),
            (prec_all_day, "Display", "c_capped_all", 100.0, 50.0, "USD"),
        ],
        AD_COST_DAILY_SCHEMA,
    )
    journeys_df, touches_df, transitions_df = frames(spark, journeys, touches, transitions)
    config = AbandonmentConfig(manual_journey_ids=("man", "conv_manual", "prec_all"))
    result = detect_abandonment(
        journeys_df, touches_df, transitions_df, exposures, cost, AS_OF, JourneyConfig(), config
    ).collect()
    return {
        r["journey_id"]: (r["reason"], list(r["matched_reasons"]), r["journey_status"], r["ended_at"]) for r in result
    }


def test_inactive_fires_at_exactly_the_threshold_and_only_in_considering_or_intent(detections: dict) -> None:
    # It ended when the stall began (last activity + 72 h), a time the data defines, whichever run noticed it.
    assert detections["inact_exact"] == ("inactive", ["inactive"], "abandoned", AS_OF)
    assert "inact_under" not in detections  # one second short of 72 h
    assert "inact_aware" not in detections  # AWARE is not an inactivity state; an untied exposure is no evidence


def test_timed_out_journeys_are_recorded_and_keep_their_status_and_end(detections: dict) -> None:
    assert detections["to_status"] == ("timed_out", ["timed_out"], "timed_out", AS_OF - 6 * DAY)
    # open at exactly timeout_at: the journeys stage missed it; it times out, ending at its last activity
    assert detections["to_exact"] == ("timed_out", ["timed_out"], "timed_out", AS_OF - TIMEOUT)
    # the reason does not depend on run cadence: a CONSIDERING journey first seen after its timeout is inactive
    assert detections["to_considering"] == ("inactive", ["inactive", "timed_out"], "timed_out", AS_OF - 6 * DAY)


def test_manual_termination_applies_to_open_journeys_only(detections: dict) -> None:
    assert detections["man"] == ("manual", ["manual"], "abandoned", AS_OF - HOUR)  # no stall: ends at last activity
    assert "conv_manual" not in detections


def test_fatigue_counts_impressions_since_the_last_response(detections: dict) -> None:
    assert detections["fat_exact"][:3] == ("fatigue", ["fatigue"], "abandoned")
    assert "fat_under" not in detections
    assert detections["fat_noresp"][:2] == ("fatigue", ["fatigue"])


def test_budget_needs_every_last_day_campaign_capped_and_a_stall(detections: dict) -> None:
    assert detections["bud"][:3] == ("budget", ["budget"], "abandoned")  # 60 + 40 == budget 100: capped
    assert "bud_under" not in detections  # 99.99 < 100
    assert "bud_fresh" not in detections  # capped, but only 5 h idle
    assert "bud_nullbudget" not in detections  # no budget known: never capped
    assert "bud_mixed" not in detections  # one of the day's campaigns still had budget


def test_competitor_needs_no_progress_after_the_exposure_and_a_stall(detections: dict) -> None:
    assert detections["comp"][:2] == ("competitor", ["competitor"])
    assert "comp_progress" not in detections
    assert detections["comp_tie"][:2] == ("competitor", ["competitor"])  # progress at the same instant is not "after"
    assert "comp_fresh" not in detections


def test_primary_reason_follows_the_documented_precedence(detections: dict) -> None:
    assert REASON_PRECEDENCE == ("manual", "competitor", "budget", "fatigue", "inactive", "timed_out")
    assert detections["prec_all"][:3] == ("manual", list(REASON_PRECEDENCE), "timed_out")
    assert detections["prec_cbfi"][:2] == ("competitor", ["competitor", "budget", "fatigue", "inactive"])
    assert detections["prec_bfi"][:2] == ("budget", ["budget", "fatigue", "inactive"])
    assert detections["prec_fi"][:2] == ("fatigue", ["fatigue", "inactive"])


# ---- exposures -> users and journeys ----------------------------------------------------------------------------


def test_exposures_are_tied_to_user_and_spanning_journey_or_flagged(spark: SparkSession) -> None:
    journeys = spark.createDataFrame(
        [
            journey("j_open", "AWARE", START + DAY, start=START),
            journey("j_conv", "CONVERTED", START + DAY, status="converted", start=START, end=START + DAY, user=2),
        ],
        USER_JOURNEYS_SCHEMA,
    )
    identity = spark.createDataFrame(
        [("device", "d1", 1), ("device", "d2", 2), ("login", "d3", 3)],
        "id_type string, id_value string, canonical_user_id long",
    )
    exposures = spark.createDataFrame(
        [
            ("e_after_last", START + 3 * DAY, "rival", "Display", "d1"),  # idle but not timed out: still the journey
            ("e_dup", START + 2 * DAY, "rival", "Display", "d1"),
            ("e_dup", START + 2 * DAY + HOUR, "rival", "Display", "d1"),  # duplicate id: the earliest is kept
            ("e_at_timeout", START + DAY + TIMEOUT, "rival", "Display", "d1"),  # timeout_at itself is outside
            ("e_at_conversion", START + DAY, "rival", "Display", "d2"),  # end of a converted journey is outside
            ("e_unknown", START + DAY, "rival", "Display", "d3"),  # d3 is a login, not a device id
            ("e_invalid", None, "rival", "Display", "d1"),
            (None, START + HOUR, "rival", "Display", "d2"),  # no id: hashed, and tied
        ],
        COMPETITOR_EXPOSURES_SCHEMA,
    )
    rows = tie_exposures(exposures, identity, journeys).collect()
    got = {r["exposure_id"]: (r["canonical_user_id"], r["journey_id"], r["match_status"]) for r in rows}
    hashed = [
        k
        for k in got
        if k not in {"e_after_last", "e_dup", "e_at_timeout", "e_at_conversion", "e_unknown", "e_invalid"}
    ]
    assert len(rows) == 8 - 1  # the duplicate collapsed, nothing else dropped
    assert got["e_after_last"] == (1, "j_open", "matched")
    assert got["e_dup"] == (1, "j_open", "matched")
    assert [r["exposure_ts"] for r in rows if r["exposure_id"] == "e_dup"] == [START + 2 * DAY]
    assert got["e_at_timeout"] == (1, None, "no_journey")
    assert got["e_at_conversion"] == (2, None, "no_journey")
    assert got["e_unknown"] == (None, None, "unknown_device")
    assert got["e_invalid"] == (1, None, "invalid")
    assert len(hashed) == 1 and len(hashed[0]) == 64 and got[hashed[0]] == (2, "j_conv", "matched")


# ---- penalty ----------------------------------------------------------------------------------------------------


def test_penalty_worked_cases(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [
            ("aware_timeout", 25.0, "AWARE", 10.0, "timed_out", 50.0, 0.2),
            ("intent_competitor", 150.0, "INTENT", 5.0, "competitor", 50.0, 0.6),
            ("considering_budget", 75.0, "CONSIDERING", 2.0, "budget", 50.0, 0.3),
            ("unknown_state", 10.0, "BOGUS", 0.0, "manual", 50.0, 0.0),
        ],
        "case string, spend double, state_at_abandonment string, days_active double, reason string, "
        "expected_value double, conversion_probability double",
    )
    got = {r["case"]: r for r in with_penalty(rows, AbandonmentConfig()).collect()}

    # 25-dollar AWARE timeout after 10 days: (0.15*25 + 0.2*50) * (1 + 0.01*10) * 1.0 = (3.75 + 10) * 1.1 = 15.125
    aware = got["aware_timeout"]
    assert (aware["cost_penalty"], aware["state_penalty"]) == pytest.approx((3.75, 10.0))
    assert (aware["time_factor"], aware["reason_multiplier"]) == pytest.approx((1.1, 1.0))
    assert aware["penalty_amount"] == pytest.approx(15.125)
    assert aware["opportunity_cost"] == pytest.approx(10.0)  # 0.2 * 50
    # 150-dollar INTENT competitor loss after 5 days: (22.5 + 0.8*50) * 1.05 * 1.5 = 62.5 * 1.575 = 98.4375
    assert got["intent_competitor"]["penalty_amount"] == pytest.approx(98.4375)
    assert got["intent_competitor"]["opportunity_cost"] == pytest.approx(30.0)  # 0.6 * 50
    # 75-dollar CONSIDERING budget stop after 2 days: (11.25 + 0.5*50) * 1.02 * 0.6 = 36.25 * 0.612 = 22.185
    assert got["considering_budget"]["penalty_amount"] == pytest.approx(22.185)
    # a state missing from the weights has no state penalty: 0.15*10 * 1.0 * 0.3 = 0.45
    assert got["unknown_state"]["penalty_amount"] == pytest.approx(0.45)


def test_penalty_weights_come_from_configuration(spark: SparkSession) -> None:
    row = spark.createDataFrame(
        [(100.0, "AWARE", 10.0, "timed_out", 50.0, 0.5)],
        "spend double, state_at_abandonment string, days_active double, reason string, expected_value double, "
        "conversion_probability double",
    )
    config = replace(
        AbandonmentConfig(),
        cost_penalty_rate=0.5,
        state_weights=(("AWARE", 1.0),),
        reason_multipliers=(("timed_out", 2.0),),
        time_factor_per_day=0.1,
    )
    # (0.5*100 + 1.0*50) * (1 + 0.1*10) * 2.0 = 100 * 2 * 2 = 400
    assert with_penalty(row, config).first()["penalty_amount"] == pytest.approx(400.0)  # type: ignore[index]


# ---- conversion model -------------------------------------------------------------------------------------------


def test_features_take_state_recency_and_touches_where_the_outcome_was_decided(spark: SparkSession) -> None:
    journeys, touches, transitions = frames(
        spark,
        [
            journey("open_24h", "AWARE", AS_OF - 24 * HOUR),  # exactly 24 h: the 1-3d bucket
            journey("conv", "CONVERTED", START + 2 * DAY, status="converted", conversion_ts=START + 2 * DAY),
            journey("timed", "CONSIDERING", START, status="timed_out"),
            journey("aband", "INTENT", AS_OF - 100 * HOUR, status="abandoned", end=AS_OF),
        ],
        [
            touch("open_24h", 1, AS_OF - 24 * HOUR),
            *[touch("conv", i, START + i * HOUR) for i in range(1, 4)],  # last pre-conversion touch at START + 3 h
            touch("conv", 4, START + 2 * DAY, "conversion", value=80.0),
            *[touch("timed", i, START) for i in range(1, 9)],
        ],
        [
            transition("conv", 1, "AWARE", "CONSIDERING", START + HOUR),
            transition("conv", 2, "CONSIDERING", "CONVERTED", START + 2 * DAY),
        ],
    )
    expected = spark.createDataFrame(
        [
            ("open_24h", 1, "open", "AWARE", 24.0, 1, "1-3d", "<=1", None),
            ("conv", 1, "converted", "CONSIDERING", 45.0, 3, "1-3d", "2-3", 1),
            ("timed", 1, "timed_out", "CONSIDERING", 336.0, 8, ">=7d", ">=8", 0),
            ("aband", 1, "abandoned", "INTENT", 100.0, 0, "3-7d", "<=1", 0),
        ],
        JOURNEY_FEATURES_SCHEMA,
    )
    got = journey_features(journeys, touches, transitions, AS_OF)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def test_conversion_model_smooths_small_buckets_toward_their_state(spark: SparkSession) -> None:
    rows = [
        *[("a", "AWARE", "<1d", "<=1", c) for c in (1, 0)],
        *[("b", "AWARE", ">=7d", "<=1", 0) for _ in range(3)],
        *[("i", "INTENT", "<1d", "2-3", c) for c in (1, 1, 1, 1, 0)],
        ("open_bucket", "AWARE", "<1d", "<=1", None),
        ("open_empty", "AWARE", "1-3d", "<=1", None),
        ("open_weird", "BOGUS", "<1d", "<=1", None),
    ]
    features = spark.createDataFrame(
        [(jid, 1, "x", state, 0.0, 1, rb, tb, c) for jid, state, rb, tb, c in rows], JOURNEY_FEATURES_SCHEMA
    )
    model = fit_conversion_model(
        spark, features, AbandonmentConfig(conversion_smoothing_alpha=5.0, prior_conversion_rate=0.05)
    )
    levels = {(r["model_state"], r["recency_bucket"], r["touch_bucket"]): r for r in model.collect()}
    # overall: (5 conversions + 5*0.05) / (10 + 5) = 0.35
    assert levels[("ALL", None, None)]["conversion_probability"] == pytest.approx(0.35)
    # AWARE: (1 + 5*0.35) / (5 + 5) = 0.275; INTENT: (4 + 1.75) / 10 = 0.575; unseen CONSIDERING: 1.75 / 5 = 0.35
    assert levels[("AWARE", None, None)]["conversion_probability"] == pytest.approx(0.275)
    assert levels[("INTENT", None, None)]["conversion_probability"] == pytest.approx(0.575)
    assert levels[("CONSIDERING", None, None)]["conversion_probability"] == pytest.approx(0.35)
    assert levels[("CONSIDERING", None, None)]["journeys"] == 0
    # AWARE <1d <=1: (1 + 5*0.275) / (2 + 5) = 2.375 / 7
    assert levels[("AWARE", "<1d", "<=1")]["conversion_probability"] == pytest.approx(2.375 / 7)

    value = spark.createDataFrame([(40.0,)], "expected_value double")
    scores = {
        r["journey_id"]: r for r in score_journeys(features.where("converted is null"), model, value, AS_OF).collect()
    }
    assert (scores["open_bucket"]["conversion_probability"], scores["open_bucket"]["model_support"]) == pytest.approx(
        (2.375 / 7, 2)
    )
    assert scores["open_bucket"]["expected_conversion_value"] == pytest.approx(40.0 * 2.375 / 7)
    assert (scores["open_empty"]["conversion_probability"], scores["open_empty"]["model_support"]) == pytest.approx(
        (0.275, 0)
    )
    assert scores["open_weird"]["conversion_probability"] == pytest.approx(0.35)  # unknown state: overall rate


def test_conversion_model_without_history_falls_back_to_the_prior(spark: SparkSession) -> None:
    features = spark.createDataFrame([("o", 1, "open", "AWARE", 1.0, 1, "<1d", "<=1", None)], JOURNEY_FEATURES_SCHEMA)
    model = fit_conversion_model(spark, features, AbandonmentConfig(prior_conversion_rate=0.05))
    value = spark.createDataFrame([(50.0,)], "expected_value double")
    assert score_journeys(features, model, value, AS_OF).first()["conversion_probability"] == pytest.approx(0.05)  # type: ignore[index]


# ---- funnel -----------------------------------------------------------------------------------------------------

EVENTS_DDL = (
    "event_id string, event_ts timestamp, event_seq long, event_name string, device_key long, "
    "source_session_id string, channel string"
)


def test_funnel_daily_is_a_closed_funnel_per_day_and_channel(spark: SparkSession) -> None:
    t = datetime(2024, 3, 1, 23, 50, 0)
    steps = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]
    events = [
        *[
            (f"s1-{i}", t + i * timedelta(minutes=5), i, name, 1, "s1", "Organic Search")
            for i, name in enumerate(steps)
        ],
        *[(f"s2-{i}", t + i * HOUR / 60, i, name, 2, "s2", "Organic Search") for i, name in enumerate(steps[:3])],
        ("s3-0", t, 0, "page_view", 3, "s3", None),  # first channel is null: the first non-null one counts
        ("s3-1", t + HOUR / 60, 1, "view_item", 3, "s3", "Direct"),
        ("s4-0", t, 0, "page_view", 4, "s4", "Organic Search"),
        ("s4-1", t, 1, "purchase", 4, "s4", "Organic Search"),  # purchase without cart: not through the funnel
        ("n-0", t, 0, "page_view", 5, None, None),  # no session id and no channel
        ("n-1", t, 1, "page_view", 5, None, None),
    ]
    sessions = session_funnel(spark.createDataFrame(events, EVENTS_DDL))
    day = date(2024, 3, 1)  # s1 crosses midnight: the session belongs to its first event's day
    organic = [
        (day, "Organic Search", "session", 1, 3, 2, 1, 2 / 3),
        (day, "Organic Search", "product_view", 2, 2, 2, 0, 1.0),
        (day, "Organic Search", "add_to_cart", 3, 2, 1, 1, 0.5),
        (day, "Organic Search", "checkout", 4, 1, 1, 0, 1.0),
        (day, "Organic Search", "purchase", 5, 1, 1, 0, 1.0),
    ]
    direct = [
        (day, "Direct", "session", 1, 1, 1, 0, 1.0),
        (day, "Direct", "product_view", 2, 1, 0, 1, 0.0),
        *[(day, "Direct", s, o, 0, 0, 0, None) for s, o in (("add_to_cart", 3), ("checkout", 4), ("purchase", 5))],
    ]
    unassigned = [
        (day, "Unassigned", "session", 1, 1, 0, 1, 0.0),
        *[
            (day, "Unassigned", s, o, 0, 0, 0, None)
            for s, o in (("product_view", 2), ("add_to_cart", 3), ("checkout", 4), ("purchase", 5))
        ],
    ]
    expected = spark.createDataFrame(organic + direct + unassigned, FUNNEL_DAILY_SCHEMA)
    assert_df_equality(
        funnel_daily(sessions), expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
    )

    carts = spark.createDataFrame([(day, "Organic Search", 2, 1, 1, 0.5)], CART_ABANDONMENT_DAILY_SCHEMA)
    assert_df_equality(
        cart_abandonment_daily(sessions), carts, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
    )


# ---- competitor impact ------------------------------------------------------------------------------------------


def test_competitor_impact_compares_exposed_and_unexposed_journeys_in_the_same_state(spark: SparkSession) -> None:
    t = START
    journeys, _, transitions = frames(
        spark,
        [
            journey("e1", "CONVERTED", t + 5 * DAY, status="converted", end=t + 5 * DAY, conversion_ts=t + 5 * DAY),
            journey("e2", "AWARE", t + DAY, status="timed_out"),
            journey("u1", "CONVERTED", t + 5 * DAY, status="converted", end=t + 5 * DAY, conversion_ts=t + 5 * DAY),
            journey("u2", "AWARE", t + DAY, status="timed_out"),
            journey("u3", "AWARE", t + DAY, status="abandoned", end=t + 5 * DAY),
            journey("o1", "AWARE", t + DAY),  # open: its exposure is reported, but it is not in the rates
        ],
        [],
        [
            transition("e1", 1, "UNAWARE", "AWARE", t),
            transition("e1", 2, "AWARE", "CONSIDERING", t + 3 * DAY),
            transition("e1", 3, "CONSIDERING", "CONVERTED", t + 5 * DAY),
            transition("e2", 1, "UNAWARE", "AWARE", t),
            transition("u1", 1, "UNAWARE", "AWARE", t),
            transition("u1", 2, "AWARE", "CONSIDERING", t + DAY),
            transition("u1", 3, "CONSIDERING", "CONVERTED", t + 5 * DAY),
            transition("u2", 1, "UNAWARE", "AWARE", t),
            transition("u3", 1, "UNAWARE", "AWARE", t),
            transition("o1", 1, "UNAWARE", "AWARE", t),
        ],
    )
    tied = spark.createDataFrame(
        [
            ("x1", t + DAY, "rival", "Display", "d", 1, "e1", "matched"),
            ("x1b", t + 4 * DAY, "rival", "Display", "d", 1, "e1", "matched"),  # a later exposure: the first counts
            ("x2", t + DAY, "rival", "Display", "d", 1, "e2", "matched"),
            ("x3", t + DAY, "rival", "Display", "d", 1, "o1", "matched"),
            ("x4", t + DAY, "rival", "Display", "z", None, None, "unknown_device"),
        ],
        "exposure_id string, exposure_ts timestamp, competitor string, channel string, user_pseudo_id string, "
        "canonical_user_id long, journey_id string, match_status string",
    )
    outcomes = competitor_exposure_outcomes(tied, journeys, transitions)
    per_exposure = {
        r["exposure_id"]: (r["state_at_exposure"], r["progressed_after"], r["converted_after"])
        for r in outcomes.collect()
    }
    assert per_exposure == {
        "x1": ("AWARE", True, True),
        "x1b": ("CONSIDERING", True, True),
        "x2": ("AWARE", False, False),
        "x3": ("AWARE", False, False),
        "x4": (None, None, None),
    }
    expected = spark.createDataFrame(
        [
            # exposed in AWARE: e1 (converted, progressed) and e2 (neither); unexposed ever in AWARE: u1 u2 u3
            ("AWARE", 2, 3, 0.5, 1 / 3, 0.5 - 1 / 3, 0.5, 1 / 3, 0.5 - 1 / 3),
            ("UNAWARE", 0, 3, None, 1 / 3, None, None, 1.0, None),
            ("CONSIDERING", 0, 1, None, 1.0, None, None, 1.0, None),
        ],
        COMPETITOR_IMPACT_SCHEMA,
    )
    got = competitor_impact(outcomes, journeys, transitions)
    assert_df_equality(
        got, expected, ignore_row_order=True, ignore_nullable=True, allow_nan_equality=True, ignore_metadata=True
    )
