"""Write the data dictionary (docs/tables.md) from the table catalog.

jobs/make_docs.py [--out docs/tables.md]
"""

import sys

from journeylake.cli import job

parse_args, run = job("docs", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
