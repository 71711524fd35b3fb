"""Export reinforcement-learning transitions and next-channel recommendations.

    jobs/export_rl.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Run after jobs/detect_abandonment.py; writes gold.rl_transitions and gold.journey_recommendations.
"""

import sys

from journeylake.cli import job

parse_args, run = job("rl", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
