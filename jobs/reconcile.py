"""Reconcile GA4 purchases with backend orders into gold.reconciliation (+ summary).

    jobs/reconcile.py [--config FILE] [--lake DIR] [--jdbc-url URL --db-user U]

Reads bronze.events and bronze.backend_orders. With --jdbc-url (or [backend].jdbc_url)
the backend tables are first refreshed from PostgreSQL into bronze; the password comes
from the variable named by [backend].password_env. Prints the match rate and revenue delta.
"""

import sys

from journeylake.cli import job

parse_args, run = job("reconcile", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
