"""Detect abandoned journeys and write penalties, conversion scores, funnels and competitor impact.

    jobs/detect_abandonment.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Reads the journey tables written by the journeys stage; writes gold.journey_abandonments, gold.journey_scores,
gold.conversion_model, gold.funnel_daily, gold.cart_abandonment_daily, gold.competitor_exposures,
gold.competitor_impact and updates abandoned journeys in gold.user_journeys. Rerunning with the same --as-of
changes nothing.
"""

import sys

from journeylake.cli import job

parse_args, run = job("abandonment", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
