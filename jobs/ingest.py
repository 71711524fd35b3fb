"""Ingest GA4 (and, for the generated sample, ads, costs and competitor exposures) into bronze Delta tables.

    jobs/ingest.py [--config FILE] [--lake DIR] [--ga4 DIR] [--sample-dir DIR]
                   [--from-date YYYY-MM-DD] [--to-date YYYY-MM-DD] [--as-of TIMESTAMP]

Without a date range it reads every input file that is new or changed since the last run; with one it
re-reads the GA4 files of those days (idempotent). Prints the stage summary and the row accounting
(input = accepted + duplicates removed + quarantined); exits non-zero on failure.
"""

import sys

from journeylake.cli import job

parse_args, run = job("ingest", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
