"""Build sessions and persistent journeys for the people with new data into silver/gold.

    jobs/build_journeys.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Reads bronze.events, bronze.ad_touchpoints, silver.identity_map and silver.identity_merges; writes
silver.sessions, gold.journey_touchpoints, gold.user_journeys, gold.journey_state_transitions and gold.users.
Prints the summary line (journeys by status and state included) and the details as JSON.
"""

import sys

from journeylake.cli import job

parse_args, run = job("journeys", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
