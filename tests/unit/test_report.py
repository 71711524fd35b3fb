"""The run report: bounded chart data from tiny tables, and the HTML/JSON report rendered from a tiny lake.

The lake holds six journeys, two conversions with hand-computed credits, three abandonments, three people
in the identity map and two recorded runs, so every number the charts must show is known in advance.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import overwrite_table, table_path
from journeylake.io.runs import record_stage_runs, stage_row
from journeylake.report import (
    HOURS_TO_CONVERSION_BUCKETS,
    JOURNEY_DAYS,
    MAX_CHART_ROWS,
    Buckets,
    build_sections,
    collect_rows,
    histogram,
)
from journeylake.schemas.abandonment import JOURNEY_ABANDONMENTS_SCHEMA
from journeylake.schemas.attribution import ATTRIBUTION_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA
from journeylake.schemas.journeys import JOURNEY_STATE_TRANSITIONS_SCHEMA, USER_JOURNEYS_SCHEMA
from journeylake.schemas.report import HISTOGRAM_SCHEMA, MISSING_BUCKET
from journeylake.stages import RunContext
from journeylake.stages.report import run as run_report

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 1, 10, 0, 0)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
FILLER: dict[type, Any] = {
    T.StringType: "x",
    T.LongType: 0,
    T.IntegerType: 0,
    T.DoubleType: 0.0,
    T.BooleanType: False,
    T.TimestampType: T0,
    T.DateType: date(2024, 3, 1),
    T.ArrayType: [],
}


def frame(spark: SparkSession, schema: T.StructType, *rows: dict[str, Any]) -> DataFrame:
    """Rows given by the columns a test cares about; other non-nullable columns get a filler value."""
    filled = []
    for row in rows:
        values = {f.name: None if f.nullable else FILLER[type(f.dataType)] for f in schema.fields}
        values.update(row)
        filled.append(tuple(values[f.name] for f in schema.fields))
    return spark.createDataFrame(filled, schema)


def journey(journey_id: str, status: str, state: str, last_activity: timedelta, touchpoints: int, **more: Any) -> dict:
    return {
        "journey_id": journey_id,
        "status": status,
        "current_state": state,
        "start_ts": T0,
        "last_activity_ts": T0 + last_activity,
        "touchpoints": touchpoints,
        **more,
    }


JOURNEYS = [
    # Converted 3 hours in (1-6h), after 4 touches (3-4).
    journey("j1", "converted", "CONVERTED", 3 * HOUR, 4, conversion_ts=T0 + 3 * HOUR),
    # Converted exactly 24 hours in: the 24h edge opens the 1-3d bucket; exactly one active day opens 1-2d.
    journey("j2", "converted", "CONVERTED", DAY, 1, conversion_ts=T0 + DAY),
    journey("j3", "open", "AWARE", 12 * HOUR, 2),
    journey("j4", "abandoned", "INTENT", 7 * DAY, 5),  # exactly 7 days: 7-14d
    journey("j5", "timed_out", "BOGUS", 2 * HOUR, 0),  # a state outside STATES: shown as unknown, not dropped
    journey("j6", "timed_out", "CONSIDERING", 2 * DAY, 3),  # its transition log says it once reached INTENT
]
# Journeys (all statuses) that reached at least each state.
EXPECTED_REACHED = {"UNAWARE": 5, "AWARE": 5, "CONSIDERING": 4, "INTENT": 4, "CONVERTED": 2}
TRANSITIONS = [
    {"journey_id": "j6", "seq": 1, "from_state": "CONSIDERING", "to_state": "INTENT"},
    {"journey_id": "j1", "seq": 1, "from_state": "INTENT", "to_state": "CONVERTED"},
]


def credit(conversion: str, channel: str, model: str, share: float, value: float, included: bool = True) -> dict:
    return {
        "conversion_id": conversion,
        "journey_id": conversion,
        "channel": channel,
        "model": model,
        "credit": share,
        "credited_value": share * value,
        "included": included,
    }


ATTRIBUTION = [
    credit("j1", "Paid Search", "linear", 0.5, 100.0),
    credit("j1", "Email", "linear", 0.5, 100.0),
    credit("j1", "Email", "last_touch", 1.0, 100.0),
    credit("j1", "Direct", "linear", 1.0, 100.0, included=False),  # excluded rows carry no credit
    credit("j2", "Email", "linear", 1.0, 40.0),
    credit("j2", "Email", "last_touch", 1.0, 40.0),
]
ABANDONMENTS = [
    {"journey_id": "j4", "reason": "budget_exhausted", "penalty_amount": 12.5, "opportunity_cost": 30.0, "spend": 7.0},
    {"journey_id": "j7", "reason": "competitor", "penalty_amount": 2.25, "opportunity_cost": 10.0, "spend": 1.0},
    {"journey_id": "j8", "reason": "competitor", "penalty_amount": 1.75, "opportunity_cost": 5.5, "spend": 0.5},
]
# Canonical user 1 has three identifiers, user 2 one, user 3 two.
IDENTITY = [
    {"id_type": "device", "id_value": f"d{n}", "canonical_user_id": user} for n, user in enumerate([1, 1, 1, 2, 3, 3])
]


def record_runs(spark: SparkSession, lake: Path) -> None:
    def row(run_id: str, stage: str, recorded: datetime, **more: Any) -> dict[str, object]:
        values: dict[str, Any] = {"failed": False, "message": "", "seconds": 1.0, "rows_in": {}, "rows_out": {}}
        values.update(more)
        return stage_row(run_id, stage, T0, details=values.pop("details", {}), recorded_at=recorded, **values)

    older = T0 - DAY
    record_stage_runs(spark, str(lake), [row("r1", "ingest", older), row("r1", "pipeline", older, seconds=9.0)])
    record_stage_runs(
        spark,
        str(lake),
        [
            row("r2", "journeys", T0, seconds=4.5, rows_in={"bronze.events": 120}, rows_out={"gold.user_journeys": 6}),
            row("r2", "ingest", T0, seconds=2.25, rows_in={"ga4": 123}, rows_out={"bronze.events": 120, "q": 3}),
            row("r2", "pipeline", T0, seconds=7.5, details={"stages": ["ingest", "journeys"]}),
        ],
    )


@pytest.fixture(scope="module")
def tiny_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("report_lake")
    tables = [
        ("gold", "user_journeys", USER_JOURNEYS_SCHEMA, JOURNEYS),
        ("gold", "journey_state_transitions", JOURNEY_STATE_TRANSITIONS_SCHEMA, TRANSITIONS),
        ("gold", "attribution", ATTRIBUTION_SCHEMA, ATTRIBUTION),
        ("gold", "journey_abandonments", JOURNEY_ABANDONMENTS_SCHEMA, ABANDONMENTS),
        ("silver", "identity_map", IDENTITY_MAP_SCHEMA, IDENTITY),
    ]
    for layer, name, schema, rows in tables:
        overwrite_table(frame(spark, schema, *rows), table_path(lake, layer, name))
    record_runs(spark, lake)
    return lake


@pytest.fixture(scope="module")
def report(spark: SparkSession, tiny_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report_out")
    expectations = root / "expectations"
    expectations.mkdir()
    (expectations / "index.html").write_text("<html>data docs</html>")
    (expectations / "summary-r2.json").write_text(json.dumps({"run_id": "r2", "critical_failures": 0, "warnings": 2}))
    config = with_overrides(
        PipelineConfig(),
        **{
            "lake.root": str(tiny_lake),
            "report.out_dir": str(root / "run"),
            "validation.report_dir": str(expectations),
        },
    )
    result = run_report(RunContext(spark=spark, config=config, run_id="report-test", as_of=T0))
    assert not result.failed, result.message
    index = Path(result.details["index"])
    print(f"report written to {index}")
    return {
        "result": result,
        "html": index.read_text(),
        "summary": json.loads(Path(result.details["summary"]).read_text()),
    }


# ---- helpers to read the rendered page --------------------------------------------------------------------


def chart_texts(page: str, chart: str) -> list[str]:
    """Every text drawn in one chart's SVG (bar labels, ticks, legend), in drawing order."""
    match = re.search(rf'<figure class="chart" id="chart-{chart}">(.*?)</figure>', page, re.DOTALL)
    assert match, f"chart {chart} missing"
    return [html.unescape(text.strip()) for text in re.findall(r"<text\b[^>]*>([^<]*)</text>", match.group(1))]


def table_rows(page: str, table_id: str) -> dict[str, list[str]]:
    """A data table's rows keyed by their first cell."""
    match = re.search(rf'<table class="data" id="{table_id}">(.*?)</table>', page, re.DOTALL)
    assert match, f"table {table_id} missing"
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.DOTALL):
        cells = [html.unescape(cell) for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row, re.DOTALL)]
        rows[cells[0]] = cells[1:]
    return rows


# ---- the rendered report ----------------------------------------------------------------------------------


def test_funnel_chart_shows_journeys_that_reached_each_state(report: dict[str, Any]) -> None:
    page = report["html"]
    funnel = report["summary"]["sections"]["funnel"]["totals"]
    assert funnel == {"reached": EXPECTED_REACHED, "unknown_state": 1}
    texts = chart_texts(page, "funnel")
    # Bar labels are the per-state totals, in state order, then the unknown state.
    assert [t for t in texts if t.isdigit()][-6:] == ["5", "5", "4", "4", "2", "1"]
    assert "(unknown state)" in texts
    rows = table_rows(page, "data-funnel")
    assert rows["state"] == ["open", "converted", "timed_out", "abandoned", "all journeys"]
    assert rows["CONVERTED"] == ["0", "2", "0", "0", "2"]
    assert rows["INTENT"] == ["0", "2", "1", "1", "4"]  # j6 reached INTENT by its transition log
    assert rows["(unknown state)"] == ["0", "0", "1", "0", "1"]


def test_attribution_chart_shows_every_model_side_by_side_from_included_credit(report: dict[str, Any]) -> None:
    page = report["html"]
    texts = chart_texts(page, "attribution")
    assert {"linear", "last_touch", "Email", "Paid Search"} <= set(texts)
    assert {"50.00", "90.00", "140.00"} <= set(texts)
    rows = table_rows(page, "data-attribution")
    assert rows["channel"] == ["last_touch", "linear"]
    assert rows["Email"] == ["140.00", "90.00"]
    assert rows["Paid Search"] == ["0.00", "50.00"]
    assert rows["total"] == ["140.00", "140.00"]  # every model credits the same total value
    assert "Direct" not in rows and "Direct" not in texts
    conversions = table_rows(page, "data-attribution-conversions")
    assert conversions["Email"] == ["2.000", "1.500"]


def test_time_to_conversion_and_journey_length_histograms(report: dict[str, Any]) -> None:
    page = report["html"]
    hours = table_rows(page, "data-hours_to_conversion")
    assert {bucket: counts[0] for bucket, counts in hours.items() if counts[0] != "0"} == {
        "time from journey start to conversion": "journeys",
        "1-6h": "1",
        "1-3d": "1",
    }
    assert "1" in chart_texts(page, "hours_to_conversion")
    days = table_rows(page, "data-journey_days")
    assert (days["<1d"], days["1-2d"], days["2-4d"], days["7-14d"]) == (["3"], ["1"], ["1"], ["1"])
    touches = table_rows(page, "data-journey_touchpoints")
    assert (touches["0"], touches["1"], touches["2"], touches["3-4"], touches["5-9"]) == (
        ["1"],
        ["1"],
        ["1"],
        ["2"],
        ["1"],
    )
    # Every regular bucket is drawn with its count, zeros included, so the x axis never shifts.
    assert chart_texts(page, "journey_days").count("0") >= 4


def test_abandonment_and_identity_sections(report: dict[str, Any]) -> None:
    page = report["html"]
    abandonment = table_rows(page, "data-abandonment")
    assert abandonment["budget_exhausted"] == ["1", "12.50", "30.00", "7.00"]
    assert abandonment["competitor"] == ["2", "4.00", "15.50", "1.50"]
    assert {"12.50", "4.00", "30.00", "15.50"} <= set(chart_texts(page, "abandonment"))
    identity = table_rows(page, "data-identifiers_per_user")
    assert (identity["1"], identity["2"], identity["3-5"], identity["6-10"]) == (["1"], ["1"], ["1"], ["0"])


def test_run_section_shows_the_latest_run_in_pipeline_order(report: dict[str, Any]) -> None:
    page = report["html"]
    run = table_rows(page, "data-run")
    assert list(run)[1:] == ["ingest", "journeys", "pipeline"]
    assert run["ingest"][:4] == ["ok", "2.2", "123", "123"]  # 2.25 s shown to one decimal
    assert "run <code>r2</code>" in page
    assert report["summary"]["sections"]["run"]["totals"]["seconds"] == 7.5


def test_report_links_the_expectation_report_and_is_self_contained(report: dict[str, Any]) -> None:
    page = report["html"]
    assert 'href="../expectations/index.html"' in page
    assert 'href="../expectations/summary-r2.json"' in page
    assert "0 critical failures" in page and "2 warnings" in page
    assert page.count("<svg") == 8  # run, funnel, attribution, 1 + 2 + 1 histograms, abandonment
    for fetches in ("<script", "<link", "<img", 'src="http', "@import"):
        assert fetches not in page
    assert report["summary"]["expectations"]["warnings"] == 2
    assert report["result"].rows_out["report.chart_rows"] > 0


def test_report_of_an_empty_lake_says_what_is_missing(spark: SparkSession, tmp_path: Path) -> None:
    config = with_overrides(
        PipelineConfig(),
        **{
            "lake.root": str(tmp_path / "lake"),
            "report.out_dir": str(tmp_path / "run"),
            "validation.report_dir": str(tmp_path / "none"),
        },
    )
    result = run_report(RunContext(spark=spark, config=config, run_id="empty", as_of=T0))
    assert not result.failed
    page = (tmp_path / "run" / "index.html").read_text()
    assert "not available: gold.user_journeys not found in the lake" in page
    assert "no expectation report yet" in page
    assert set(result.details["unavailable"]) == {
        "run",
        "funnel",
        "attribution",
        "time_to_conversion",
        "journey_length",
        "abandonment",
        "identity",
    }


# ---- the aggregates ---------------------------------------------------------------------------------------


def test_histogram_puts_edges_in_the_upper_bucket_and_keeps_nulls_and_bad_values(spark: SparkSession) -> None:
    values = spark.createDataFrame([(0.0,), (1.0,), (5.99,), (6.0,), (None,), (-2.0,), (10_000.0,)], "hours double")
    actual = histogram(values, F.col("hours"), HOURS_TO_CONVERSION_BUCKETS, "h")
    labels = HOURS_TO_CONVERSION_BUCKETS.labels
    counts = [1, 2, 1, 0, 0, 0, 0, 1]  # <1h: 0; 1-6h: 1 and 5.99; 6-24h: 6; 30d+: 10000
    expected_rows = [("h", i, label, counts[i]) for i, label in enumerate(labels)]
    expected_rows += [("h", 8, "below range (invalid)", 1), ("h", 9, MISSING_BUCKET, 1)]
    expected = spark.createDataFrame(expected_rows, HISTOGRAM_SCHEMA)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def test_buckets_reject_unordered_edges() -> None:
    with pytest.raises(ValueError, match="increase"):
        Buckets(edges=(0.0, 2.0, 1.0), labels=("a", "b", "c"))


def test_collect_rows_refuses_unbounded_data(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="not bounded"):
        collect_rows(spark.range(6).withColumnRenamed("id", "k"), ("k",), max_rows=5)
    assert len(collect_rows(spark.range(5), ("id",), max_rows=5)) == 5
    assert MAX_CHART_ROWS >= 1_000


def test_sections_without_a_needed_column_are_unavailable(spark: SparkSession) -> None:
    journeys = frame(spark, USER_JOURNEYS_SCHEMA, *JOURNEYS).drop("touchpoints")
    sections = {s.key: s for s in build_sections({"gold.user_journeys": journeys})}
    assert sections["journey_length"].unavailable == "gold.user_journeys lacks column(s) touchpoints"
    assert sections["funnel"].available
    assert sections["funnel"].totals["reached"]["CONVERTED"] == 2
    days = [r for r in sections["time_to_conversion"].rows if r["count"]]
    assert [(r["bucket"], r["count"]) for r in days] == [("1-6h", 1), ("1-3d", 1)]
    assert JOURNEY_DAYS not in {r["measure"] for r in sections["time_to_conversion"].rows}
