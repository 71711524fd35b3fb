"""Render a results dict (``bench/results/<date>.json``) as BENCHMARKS.md and as the tables ``make bench`` prints.

Every figure comes from the results file; nothing here measures. Throughput per stage divides the events the run
ingested into bronze.events by that stage's wall seconds (a stage that reads other tables is still expressed
per input event, which is what sizing needs); per core divides by the cores Spark used (``local[N]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MIB = 1024 * 1024
# Stages with Spark work; "sample" only checks the pre-generated sample and "publish" is off by default.
SKIP_STAGES = ("sample",)
# Stage details that show how much of history a run re-solved.
SCOPE_DETAILS = ("people_rebuilt", "journeys_expired", "nodes", "scope_nodes", "touched_nodes", "nodes_solved")


def _mib(value: Any) -> str:
    return "-" if value in (None, "") else f"{int(value) / MIB:,.1f}"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _load(values: Any) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cores(run: dict[str, Any]) -> int:
    master = str(run.get("spark", {}).get("master", ""))
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else ""
    return int(inside) if inside.isdigit() else int(run.get("spark", {}).get("default_parallelism") or 1)


def _rate(events: int, seconds: float) -> float | None:
    return events / seconds if seconds else None


def _shuffle(run: dict[str, Any], group: str, key: str = "shuffle_write_bytes") -> Any:
    return run.get("shuffle_by_group", {}).get(group, {}).get(key)


def totals_table(results: dict[str, Any]) -> str:
    rows = []
    for run in results.get("scales", []):
        if not run.get("stages"):
            rows.append([_num(run.get("scale"), 2), "failed", *["-"] * 8])
            continue
        events, seconds, n = run["events_ingested"], run["pipeline_seconds"], cores(run)
        stages = [s for s in run["stages"] if s["stage"] not in SKIP_STAGES]
        shuffle = sum(_shuffle(run, s["stage"]) or 0 for s in stages)
        rate = _rate(events, seconds)
        rows.append(
            [
                _num(run["scale"], 2),
                _num(events),
                _num(seconds),
                _num(sum(s.get("driver_cpu_seconds") or 0 for s in stages)),
                _num(rate, 0),
                _num(rate / n if rate else None, 0),
                _mib(run.get("driver_jvm_peak_rss_bytes_whole_run")),
                _mib(run.get("driver_jvm_peak_memory", {}).get("JVMHeapMemory")),
                _mib(shuffle),
                f"{_load(run.get('started_load'))} → {_load(run.get('finished_load'))}",
            ]
        )
    header = [
        "scale",
        "events",
        "pipeline wall s",
        "driver CPU s",
        "events/s",
        "events/s/core",
        "peak driver RSS MiB",
        "peak JVM heap MiB",
        "shuffle write MiB",
        "load 1/5/15 start → end",
    ]
    return _table(header, rows)


def stages_table(run: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """Per stage of one run; with ``baseline`` (another run) a column of this run's seconds over the baseline's."""
    events, n = run.get("events_ingested", 0), cores(run)
    base = {s["stage"]: s for s in (baseline or {}).get("stages", [])}
    rows = []
    for stage in run.get("stages", []):
        name = stage["stage"]
        if name in SKIP_STAGES:
            continue
        rate = _rate(events, stage["seconds"])
        outs = ", ".join(f"{k.split('.')[-1]}={v:,}" for k, v in list(stage.get("rows_out", {}).items())[:4])
        row = [
            name + (" FAILED" if stage.get("failed") else ""),
            _num(stage["seconds"]),
            _num(stage.get("driver_cpu_seconds")),
            _num(rate, 0),
            _num(rate / n if rate else None, 0),
            _mib(stage.get("driver_peak_rss_bytes")),
            _mib(_shuffle(run, name)),
            _mib(_shuffle(run, name, "shuffle_read_bytes")),
            _num(_shuffle(run, name, "jobs")),
            outs or "-",
            _load(stage.get("load_before")),
        ]
        if baseline is not None:
            ref = base.get(name, {}).get("seconds")
            ref_cpu = base.get(name, {}).get("driver_cpu_seconds")
            cpu = stage.get("driver_cpu_seconds")
            row[2:2] = [
                _num(ref),
                f"{100 * stage['seconds'] / ref:.0f}%" if ref else "-",
                _num(ref_cpu),
                f"{100 * cpu / ref_cpu:.0f}%" if cpu is not None and ref_cpu else "-",
            ]
        rows.append(row)
    header = [
        "stage",
        "wall s",
        "driver CPU s",
        "events/s",
        "events/s/core",
        "peak RSS MiB",
        "shuffle write MiB",
        "shuffle read MiB",
        "Spark jobs",
        "rows out (first tables)",
        "load before",
    ]
    if baseline is not None:
        header[2:2] = ["baseline wall s", "wall this / baseline", "baseline CPU s", "CPU this / baseline"]
    return _table(header, rows)


def reference_table(results: dict[str, Any]) -> str:
    rows = []
    for run in results.get("scales", []):
        ref = run.get("reference")
        if not ref or "error" in ref:
            if ref:
                rows.append([_num(run["scale"], 2), f"failed: {ref['error'][:200]}", *["-"] * 11])
            continue
        agreement = ref["agreement"]
        rows.append(
            [
                _num(run["scale"], 2),
                _num(ref["input_rows"]["events"]),
                _num(ref["spark"]["wall_seconds"], 2),
                _num(ref["duckdb"]["wall_seconds"], 2),
                _num(ref["spark_over_duckdb"], 1),
                _num(ref["spark"].get("driver_cpu_seconds"), 1),
                _num(ref["duckdb"].get("cpu_seconds"), 2),
                _num(ref.get("spark_over_duckdb_cpu"), 1),
                f"{agreement['sessions_spark']:,} / {agreement['sessions_duckdb']:,}",
                f"{agreement['journeys_spark']:,} / {agreement['journeys_duckdb']:,}",
                f"{agreement['conversions_spark']:,} / {agreement['conversions_duckdb']:,}",
                f"{agreement['session_ids_differing']} / {agreement['journey_ids_differing']} / "
                f"{agreement['credit_groups_differing']}",
                _load(ref["spark"].get("load_before")),
            ]
        )
    header = [
        "scale",
        "events",
        "Spark core s",
        "DuckDB s",
        "Spark / DuckDB (wall)",
        "Spark CPU s",
        "DuckDB CPU s",
        "Spark / DuckDB (CPU)",
        "sessions S / D",
        "journeys S / D",
        "conversions S / D",
        "differing session ids / journey ids / credit groups",
        "load before",
    ]
    return _table(header, rows)


def scaling_line(results: dict[str, Any]) -> str:
    # A run whose validation failed still ran every stage: its times count (the failure is flagged).
    runs = [r for r in results.get("scales", []) if r.get("stages") and r.get("events_ingested")]
    if len(runs) < 2:
        return "Scaling: needs two scales that ran."
    small, large = runs[0], runs[-1]
    data = large["events_ingested"] / small["events_ingested"]
    wall = large["pipeline_seconds"] / small["pipeline_seconds"]
    cpu_small = sum(s.get("driver_cpu_seconds") or 0 for s in small["stages"])
    cpu_large = sum(s.get("driver_cpu_seconds") or 0 for s in large["stages"])
    cpu = cpu_large / cpu_small if cpu_small else float("nan")
    return (
        f"Scaling, scale {large['scale']:g} against {small['scale']:g}: data x{data:.2f} "
        f"({large['events_ingested']:,} / {small['events_ingested']:,} events), pipeline wall time x{wall:.2f}, "
        f"driver CPU time x{cpu:.2f} (time ratio / data ratio = {wall / data:.2f} wall, {cpu / data:.2f} CPU; "
        "1.0 is linear, below 1 means fixed per-run costs still dominate)."
        + (" Validation failed in these runs (every stage still ran)." if any(r.get("failed") for r in runs) else "")
    )


def cc_table(results: dict[str, Any]) -> tuple[str, str]:
    run = next((r for r in results.get("scales", []) if r.get("cc")), None)
    if run is None:
        return "", ""
    if "error" in run["cc"]:
        return f"Failed at scale {run['scale']:g}: {run['cc']['error'][:300]}", ""
    cc = run["cc"]
    rows = [
        [
            v["variant"],
            str(v["checkpoint_interval"]),
            _num(v["wall_seconds"], 2),
            _num(v["driver_cpu_seconds"], 1),
            "; ".join(v.get("log", [])) or "-",
            str(v.get("labels_differing_from_ours", "(reference)")),
            _load(v.get("load_before")),
        ]
        for v in cc["variants"]
    ]
    g = cc["graph"]
    shape = (
        f"Identity graph of scale {run['scale']:g}: {g['vertices']:,} vertices, {g['edges']:,} edges "
        f"({g['edges_active']:,} active, the rest cut by the guards but kept here so the hubs are in the graph), "
        f"max degree {g['max_degree']:,}, {g['components']:,} components, largest {g['largest_component']:,}. "
        f"Implementation: {cc['implementation']}. GraphFrames: {cc['graphframes']}."
    )
    header = ["variant", "checkpoint_interval", "wall s", "driver CPU s", "rounds", "labels differing", "load before"]
    return shape, _table(header, rows)


def _cpu(run: dict[str, Any]) -> float:
    return float(sum(s.get("driver_cpu_seconds") or 0 for s in run.get("stages", [])))


def incremental_section(results: dict[str, Any]) -> str:
    inc = results.get("incremental")
    if not inc:
        return "Not measured in this run."
    first, added = inc["first"], inc["added"]
    if not first.get("stages") or not added.get("stages"):
        return f"Failed: see {first.get('log')} and {added.get('log')}."
    full = next((r for r in results["scales"] if r.get("scale") == inc["scale"]), None)
    lines = [
        f"Scale {inc['scale']:g}. First run: every GA4 day up to {inc['days_first_run_up_to']} "
        f"({first['events_ingested']:,} events; the other sources' files are undated and read whole). "
        f"Then a run that adds {inc['added_day']} ({added['events_ingested']:,} new events, picked up by the "
        f"ingest watermark), in a fresh process on the same lake. Baseline column: the first run.",
        "",
        stages_table(added, baseline=first),
        "",
        "What identity and journeys re-solved (their own details, from meta.runs): "
        + "; ".join(
            f"{run_name} run {stage['stage']}: "
            + ", ".join(f"{k}={v}" for k, v in stage.get("details", {}).items() if k in SCOPE_DETAILS)
            for run_name, run in (("first", first), ("added-day", added))
            for stage in run["stages"]
            if stage["stage"] in ("identity", "journeys")
        )
        + ".",
        "",
        f"Total: added-day run {added['pipeline_seconds']:.1f} s wall / {_cpu(added):.1f} s driver CPU against "
        f"{first['pipeline_seconds']:.1f} s / {_cpu(first):.1f} s for the first run "
        f"({100 * added['pipeline_seconds'] / first['pipeline_seconds']:.0f}% wall, "
        f"{100 * _cpu(added) / _cpu(first):.0f}% CPU)"
        + (
            f" and {full['pipeline_seconds']:.1f} s for the full 30-day run of the same scale "
            f"({100 * added['pipeline_seconds'] / full['pipeline_seconds']:.0f}%)."
            if full and full.get("pipeline_seconds")
            else "."
        ),
    ]
    return "\n".join(lines)


def tables(results: dict[str, Any]) -> str:
    parts = ["Totals per scale", totals_table(results), "", scaling_line(results), ""]
    for run in results.get("scales", []):
        if run.get("stages"):
            parts += [f"Stages at scale {run['scale']:g}", stages_table(run), ""]
    parts += ["DuckDB reference (same data, same process)", reference_table(results), ""]
    shape, cc = cc_table(results)
    if cc:
        parts += ["Connected components", shape, cc, ""]
    parts += ["Incremental: one more day", incremental_section(results)]
    return "\n".join(parts)


def markdown(results: dict[str, Any], results_file: Path, notes: str) -> str:
    m, v = results["machine"], results["versions"]
    first: dict[str, Any] = next((r for r in results.get("scales", []) if r.get("spark")), {})
    conf = first.get("spark", {}).get("conf", {})
    shape, cc = cc_table(results)
    sections = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`{results.get('command', '').split(' --note')[0]}`) from `{results_file}`; "
        "do not edit by hand "
        "(the analysis comes from `bench/NOTES.md`). Benchmarks measure and record; they never fail on speed.",
        "",
        "## Machine, versions, settings",
        "",
        f"- Measured {results['started_utc']} → {results.get('finished_utc', '?')} (UTC).",
        f"- CPU: {m['cpu_model']}, {m['cores']} cores; memory {m['memory_gib']} GiB; {m['os']}.",
        f"- Load average (1/5/15 min) at start {_load(results.get('load_at_start'))}, at end "
        f"{_load(results.get('load_at_end'))}. **The machine was shared**: other Spark jobs ran at the same time, "
        "so wall times are upper bounds; driver CPU seconds (user+system of the driver JVM, which in local mode "
        "runs every task) are less sensitive to the contention and are given next to them.",
        *([f"- Note: {results['note']}"] if results.get("note") else []),
        f"- Versions: Python {m['python']}, {v.get('java')}, "
        + ", ".join(f"{k} {val}" for k, val in v.items() if k != "java")
        + ".",
        f"- Spark: `{first.get('spark', {}).get('master', '?')}`, shuffle partitions "
        f"{conf.get('spark.sql.shuffle.partitions')}, AQE {conf.get('spark.sql.adaptive.enabled')}, driver memory "
        f"{conf.get('spark.driver.memory')}, Delta snapshot partitions "
        f"{conf.get('spark.databricks.delta.snapshotPartitions')}: the `make run` session "
        "(`journeylake.cli.make_context`, `conf/default.toml`), UI on, with only `spark.ui.retainedJobs/Stages` "
        "raised so the REST API keeps every stage.",
        "",
        "## How it is measured",
        "",
        "- One fresh process per scale (`bench/scale_run.py`): sample generated first (plain Python, not timed "
        "with the pipeline), then `run_pipeline` with every stage (validation included, publishing off as by "
        "default). Wall seconds per stage are the pipeline's own `StageResult.seconds` (also in `meta.runs`).",
        "- Events = rows ingested into bronze.events. events/s = events / wall seconds; per core = / the "
        "`local[N]` cores.",
        "- Peak driver memory: peak RSS of the driver JVM (`VmHWM`, reset per stage through "
        "`/proc/<pid>/clear_refs`); in local mode that JVM is the whole Spark application. The JVM heap peak "
        "comes from the REST API (`allexecutors` → driver `peakMemoryMetrics.JVMHeapMemory`).",
        "- Shuffle bytes: Spark's status store through the UI REST API (`/api/v1/applications/<id>/jobs` and "
        "`/stages`), summed over the stages of each pipeline stage's job group (every stage runs under "
        "`setJobGroup(<stage>)`); no SparkListener.",
        "- Publishing is off (the default), so the `publish` row's Spark jobs are the run record (`meta.runs`) "
        "that `run_pipeline` writes after its last stage, under that stage's job group (validate's when validation "
        "failed and publish was skipped).",
        "- Driver CPU s: user+system CPU of the driver JVM over the stage (`/proc/<pid>/stat`). On a shared "
        "machine the ratio of CPU seconds is the steadier comparison; DuckDB's CPU is this Python process's "
        "(`getrusage`), where DuckDB runs.",
        "- DuckDB reference: see `bench/reference.py` for the exact rules; both engines read the same Parquet "
        "export of bronze.events (Delta snapshot) and the identity map's device rows, each is timed alone, "
        "DuckDB with as many threads as cores. Ad touches are left out on both sides.",
        "",
        "## Throughput",
        "",
        totals_table(results),
        "",
        scaling_line(results),
        "",
    ]
    for run in results.get("scales", []):
        if run.get("stages"):
            sections += [f"### Per stage, scale {run['scale']:g}", "", stages_table(run), ""]
    sections += [
        "## Single-node reference: Spark core against DuckDB",
        "",
        "Sessionization (30 min), journey boundaries (14 days, closed by a purchase, 90-day cap) and last-touch "
        "and linear attribution (30-day lookback). S = Spark (journeylake functions), D = DuckDB SQL.",
        "",
        reference_table(results),
        "",
        "## Incremental cost: one more day",
        "",
        incremental_section(results),
        "",
        "## Identity graph: connected components",
        "",
        shape or "Not measured in this run.",
        "",
        cc,
        "",
    ]
    if notes.strip():
        sections += [notes.strip(), ""]
    return "\n".join(sections)
