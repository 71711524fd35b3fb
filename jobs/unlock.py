"""Remove the run lock a killed run left on a lake (<lake>/_run.lock).

    jobs/unlock.py --lake URI [--force]

Refuses while the holder is still running on this machine, unless --force.
"""

import sys

from journeylake.cli import job

parse_args, run = job("unlock", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
