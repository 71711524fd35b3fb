"""Validate every table in the lake against its Great Expectations suite and publish the report.

    jobs/validate.py --lake DIR [--report-dir DIR] [--config FILE] [--as-of TIMESTAMP]

Writes Data Docs (index.html) and summary-<run_id>.json to the report dir and prints
where they are. Exits non-zero when a critical expectation fails, naming it.
"""

import sys

from journeylake.cli import job

parse_args, run = job("validate", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
