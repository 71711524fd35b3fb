"""Write the run report: charts of the lake's journeys, attribution, abandonment and identity.

    jobs/report.py [--config FILE] [--lake DIR] [--out-dir DIR] [--expectations-dir DIR]

Writes index.html (self-contained: inline SVG charts, no network needed to view it) and summary.json to
the out dir ([report].out_dir, default reports/run), linking the expectation report. Exits non-zero on failure.
"""

import sys

from journeylake.cli import job

parse_args, run = job("report", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
