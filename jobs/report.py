"""Write the run report: charts of the lake's journeys, attribution, abandonment and identity.

    .venv/bin/python jobs/report.py [--config FILE] [--lake DIR] [--out-dir DIR] [--expectations-dir DIR]

Writes index.html (self-contained: inline SVG charts, no network needed to view it) and summary.json to
the out dir ([report].out_dir, default reports/run), linking the expectation report. Exits non-zero on failure.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.config import with_overrides
from journeylake.logs import log_stage_summary
from journeylake.stages.report import run


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--out-dir", help="where index.html and summary.json go; overrides [report].out_dir")
    parser.add_argument(
        "--expectations-dir",
        help="the expectation report to link (jobs/validate.py --report-dir); overrides [validation].report_dir",
    )
    args = parser.parse_args(argv)
    overrides = {"report.out_dir": args.out_dir, "validation.report_dir": args.expectations_dir}
    config = with_overrides(config_from_args(args), **overrides)
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    result = run(context)
    log_stage_summary(result)
    if result.failed:
        print(result.message, file=sys.stderr)
        return 1
    print(f"run report: {result.details['index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
