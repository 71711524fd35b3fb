"""Run the benchmarks and write ``bench/results/<date>.json`` and ``BENCHMARKS.md``; print the tables.

    .venv/bin/python -m bench.run_bench --scales "0.5 2" [--incremental-scale 0.5] [--cc-scale 2]
    .venv/bin/python -m bench.run_bench --render bench/results/<date>.json     # re-render, measure nothing

Each scale runs in a fresh subprocess (:mod:`bench.scale_run`), so no two scales share a JVM, caches or JIT:
the full pipeline over the generated sample, then the DuckDB reference on the same data (and, at one scale,
the connected-components comparison). The incremental cost is two more fresh processes on a new lake: every
GA4 day but the last (``[ingest] to_date``), then a run that picks up the last day's file by the ingest
watermark (meta.ingest_files), exactly like a daily run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from bench import probes, render

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORK = PROJECT_ROOT / "bench" / "work"
DEFAULT_RESULTS = PROJECT_ROOT / "bench" / "results"
DEFAULT_MARKDOWN = PROJECT_ROOT / "BENCHMARKS.md"
NOTES = PROJECT_ROOT / "bench" / "NOTES.md"
PACKAGES = ("pyspark", "delta-spark", "duckdb", "great-expectations", "journeylake")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scales", default="0.5 2", help="sample scales, blank-separated (1.0 is ~157k GA4 rows)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--incremental-scale", type=float, help="scale of the incremental run (default: smallest)")
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument(
        "--cc-scale", type=float, help="scale of the connected-components comparison (default: largest)"
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="samples and lakes (git-ignored)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--markdown", type=Path, default=DEFAULT_MARKDOWN)
    parser.add_argument("--render", type=Path, help="only render this results file into --markdown and print it")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse a run's JSON already in --work (from an interrupted or hand-started bench) instead of rerunning",
    )
    parser.add_argument("--note", default="", help="a remark recorded with the results (e.g. how runs overlapped)")
    return parser.parse_args(argv)


def _key(scale: float) -> str:
    return f"{scale:g}".replace(".", "_")


RESUME = False  # set by --resume


def child(args: list[str], log: Path) -> dict[str, Any]:
    """Run :mod:`bench.scale_run` in a fresh interpreter; its JSON result (with the exit status)."""
    out = log.with_suffix(".json")
    if RESUME and out.exists():
        print(f"reusing {out}", flush=True)
        reused: dict[str, Any] = json.loads(out.read_text())
        reused.update(exit_status=1 if reused.get("failed") else 0, log=str(log), reused=True)
        return reused
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.scale_run", *args, "--out", str(out)]
    print(f"$ {' '.join(command)}", flush=True)
    start = time.perf_counter()
    with log.open("w") as handle:
        status = subprocess.run(command, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False)
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    result["exit_status"] = status.returncode
    result["process_seconds"] = round(time.perf_counter() - start, 3)
    result["log"] = str(log)
    if status.returncode:
        print(f"  exit status {status.returncode}; see {log}", flush=True)
    return result


def fresh(folder: Path) -> Path:
    if RESUME and folder.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_scale(work: Path, scale: float, seed: int, cc: bool) -> dict[str, Any]:
    run_dir = fresh(work / f"full_s{_key(scale)}")
    flags = ["--reference"] + (["--cc"] if cc else [])
    return child(
        [
            "--scale", str(scale), "--seed", str(seed), "--sample-dir", str(work / f"sample_s{_key(scale)}"),
            "--lake", str(run_dir / "lake"), *flags,
        ],
        run_dir / "run.log",
    )  # fmt: skip


def run_incremental(work: Path, scale: float, seed: int, end_date: str) -> dict[str, Any]:
    run_dir = fresh(work / f"incremental_s{_key(scale)}")
    common = ["--scale", str(scale), "--seed", str(seed), "--sample-dir", str(work / f"sample_s{_key(scale)}")]
    lake = str(run_dir / "lake")
    all_but_last = (date.fromisoformat(end_date) - timedelta(days=1)).isoformat()
    first = child([*common, "--lake", lake, "--to-date", all_but_last], run_dir / "first.log")
    added = child([*common, "--lake", lake], run_dir / "added_day.log")
    for result in (first, added):
        attach_run_details(Path(lake), result)
    return {"scale": scale, "days_first_run_up_to": all_but_last, "added_day": end_date, "first": first, "added": added}


def attach_run_details(lake: Path, result: dict[str, Any]) -> None:
    """Copy each stage's scalar details (people rebuilt, nodes re-solved, ...) from the lake's meta.runs into
    ``result`` where the run did not record them itself. meta.runs is append-only, so reading its Parquet files
    directly (DuckDB) gives every row; the run is matched by its as-of."""
    runs = lake / "meta" / "runs"
    if not runs.is_dir() or not result.get("as_of"):
        return
    with duckdb.connect(":memory:") as con:
        rows = con.execute(
            f"SELECT stage, details_json FROM read_parquet('{runs}/**/*.parquet', union_by_name = true) "
            "WHERE as_of = CAST(? AS TIMESTAMP)",
            [result["as_of"]],
        ).fetchall()
    details = {stage: json.loads(text or "{}") for stage, text in rows}
    for stage in result.get("stages", []):
        if not stage.get("details") and isinstance(details.get(stage["stage"]), dict):
            stage["details"] = {
                k: v for k, v in details[stage["stage"]].items() if isinstance(v, int | float | str | bool)
            }


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["java"] = probes.java_version()
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return _publish(json.loads(args.render.read_text()), args.render, args.markdown)

    global RESUME
    RESUME = args.resume
    scales = sorted(float(s) for s in args.scales.replace(",", " ").split())
    if not scales:
        raise SystemExit("no scales given")
    cc_scale = args.cc_scale if args.cc_scale is not None else scales[-1]
    args.work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "date": started.date().isoformat(),
        "started_utc": started.isoformat(timespec="seconds"),
        "machine": probes.machine(),
        "versions": versions(),
        "load_at_start": probes.load_average(),
        "command": " ".join(["python -m bench.run_bench", *(argv if argv is not None else sys.argv[1:])]),
        "note": args.note,
        "scales": [],
    }
    for scale in scales:
        results["scales"].append(run_scale(args.work, scale, args.seed, cc=scale == cc_scale))
    if not args.no_incremental:
        inc_scale = args.incremental_scale if args.incremental_scale is not None else scales[0]
        full = next((r for r in results["scales"] if r.get("scale") == inc_scale), None)
        end = (full or {}).get("sample", {}).get("date_range", {}).get("end")
        if end is None:
            print(f"incremental run skipped: no full run at scale {inc_scale} to take the date range from")
        else:
            results["incremental"] = run_incremental(args.work, inc_scale, args.seed, end)
    results["load_at_end"] = probes.load_average()
    results["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{results['date']}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return _publish(results, path, args.markdown)


def _publish(results: dict[str, Any], path: Path, markdown: Path) -> int:
    notes = NOTES.read_text() if NOTES.exists() else ""
    text = render.markdown(
        results, results_file=path.relative_to(PROJECT_ROOT) if path.is_absolute() else path, notes=notes
    )
    markdown.write_text(text)
    print(render.tables(results))
    print(f"\nresults: {path}\nsummary: {markdown}")
    failed = [r.get("scale") for r in results.get("scales", []) if r.get("exit_status")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
