"""Score identity resolution in a lake against a generated sample's truth.

    jobs/identity_quality.py [--config FILE] [--lake DIR] [--truth DIR]

Pairwise precision and recall of "same person" decisions over the sample's non-bot
devices (see journeylake.identity.score_identity_pairs). The last line printed is
exactly ``precision=<p> recall=<r>`` with four decimals; scripts parse it.
"""

import sys

from journeylake.cli import job

parse_args, run = job("identity-quality", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
