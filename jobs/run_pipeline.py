"""Run every journeylake stage in order and print a summary.

    jobs/run_pipeline.py [--config FILE] [--lake DIR] [--ga4 DIR] [--as-of TIMESTAMP] [--report]

Without --ga4 the generated sample world is used (generated first if missing);
with --ga4 DIR the GA4 export files under DIR are ingested instead. Exits
non-zero when a stage or a critical expectation fails.
"""

import sys

from journeylake.cli import job

parse_args, run = job("run", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
