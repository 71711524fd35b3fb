"""Ingest GA4 (and, for the generated sample, ads, costs and competitor exposures) into bronze Delta tables.

    .venv/bin/python jobs/ingest.py [--config FILE] [--lake DIR] [--ga4 DIR] [--sample-dir DIR]
                                    [--from-date YYYY-MM-DD] [--to-date YYYY-MM-DD] [--as-of TIMESTAMP]

Without a date range it reads every input file that is new or changed since the last run; with one it
re-reads the GA4 files of those days (idempotent). Prints the stage summary and the row accounting
(input = accepted + duplicates removed + quarantined); exits non-zero on failure.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.config import with_overrides
from journeylake.stages import StageResult
from journeylake.stages.ingest import accounting_line, run


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--ga4", help="folder of GA4 export files (Parquet or NDJSON), or bigquery:project.dataset.t")
    parser.add_argument("--sample-dir", help="generated sample folder; overrides [input].sample_dir")
    parser.add_argument("--from-date", help="first export day to re-read (YYYY-MM-DD)")
    parser.add_argument("--to-date", help="last export day to re-read (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    config = with_overrides(
        config_from_args(args),
        **{
            "input.ga4_dir": args.ga4,
            "input.sample_dir": args.sample_dir,
            "ingest.from_date": args.from_date,
            "ingest.to_date": args.to_date,
        },
    )
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    try:
        result = run(context)
    except Exception as error:  # the job reports and exits non-zero; the traceback goes to stderr
        result = StageResult(stage="ingest", failed=True, message=f"{type(error).__name__}: {error}")
        print(result.summary_line(), file=sys.stderr)
        raise
    print(result.summary_line())
    print(f"[ingest] {accounting_line(result)}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
