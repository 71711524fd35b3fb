"""Run every journeylake stage in order and print a summary.

    .venv/bin/python jobs/run_pipeline.py [--config FILE] [--lake DIR] [--ga4 DIR] [--as-of TIMESTAMP] [--report]

Without --ga4 the generated sample world is used (generated first if missing);
with --ga4 DIR the GA4 export files under DIR are ingested instead. Exits
non-zero when a stage or a critical expectation fails.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.config import with_overrides
from journeylake.io.runs import RunLockedError
from journeylake.logs import log_stage_summary
from journeylake.stages.pipeline import STAGES, run_pipeline
from journeylake.stages.report import run as write_report

EXIT_LAKE_LOCKED = 2  # distinct from a failed stage (1): the run did not start


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--ga4", help="folder of GA4 export files (Parquet or NDJSON) to ingest")
    names = [name for name, _ in STAGES]
    parser.add_argument("--until", choices=names, help="stop after this stage (default: run every stage)")
    parser.add_argument("--report", action="store_true", help="then write the run report ([report].out_dir)")
    args = parser.parse_args(argv)
    config = with_overrides(config_from_args(args), **{"input.ga4_dir": args.ga4})
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    stages = STAGES[: names.index(args.until) + 1] if args.until else STAGES
    try:
        results = run_pipeline(context, stages)
    except RunLockedError as error:  # another run holds the lake: nothing was read or written
        print(f"pipeline NOT started: {error}", file=sys.stderr)
        return EXIT_LAKE_LOCKED
    # After run_pipeline recorded the run in meta.runs, so the report shows this run (a failed one too).
    report = write_report(context) if args.report else None
    if report is not None:
        log_stage_summary(report)
    failed = [r for r in results if r.failed] + ([report] if report is not None and report.failed else [])
    if failed:
        print(f"pipeline FAILED at stage {failed[0].stage}: {failed[0].message}", file=sys.stderr)
        return 1
    print(f"pipeline ok: run {context.run_id}, {sum(r.seconds for r in results):.1f}s, lake {context.lake}")
    if report is not None:
        print(f"run report: {report.details['index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
