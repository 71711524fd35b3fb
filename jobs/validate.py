"""Validate every table in the lake against its Great Expectations suite and publish the report.

    .venv/bin/python jobs/validate.py --lake DIR [--report-dir DIR] [--config FILE] [--as-of TIMESTAMP]

Writes Data Docs (index.html) and summary-<run_id>.json to the report dir and prints
where they are. Exits non-zero when a critical expectation fails, naming it.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.config import with_overrides
from journeylake.stages.validate import run


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument(
        "--report-dir", help="where Data Docs and the JSON summary go; overrides [validation].report_dir"
    )
    args = parser.parse_args(argv)
    config = with_overrides(config_from_args(args), **{"validation.report_dir": args.report_dir})
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    result = run(context)
    print(result.summary_line())
    if "report" in result.details:
        print(f"expectation report: {result.details['report']}")
        print(f"summary: {result.details['summary']}")
    for warning in result.details.get("warnings", []):
        print(f"warning: {warning}")
    if result.failed:
        print(result.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
