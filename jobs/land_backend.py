"""Land the backend tables (users, orders, order items) in bronze, from PostgreSQL or the generated files.

    jobs/land_backend.py [--config FILE] [--lake URI] [--jdbc-url URL] [--db-user USER]

With a JDBC URL (or [backend].jdbc_url) the backend is read over JDBC, the password from the variable named by
[backend].password_env; without one, the generated sample's backend files are read. Rows with a null id or a
negative revenue go to bronze.quarantine with the reason.
"""

import sys

from journeylake.cli import job

parse_args, run = job("backend", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
