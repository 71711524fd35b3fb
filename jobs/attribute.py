"""Attribute conversions: gold.journey_touchpoints + gold.user_journeys -> gold.attribution, gold.channel_history.

jobs/attribute.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]
"""

import sys

from journeylake.cli import job

parse_args, run = job("attribution", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
