"""Reconcile GA4 purchases with backend orders into gold.reconciliation (+ summary).

    .venv/bin/python jobs/reconcile.py [--config FILE] [--lake DIR] [--jdbc-url URL --db-user U]

Reads bronze.events and bronze.backend_orders. With --jdbc-url (or [backend].jdbc_url)
the backend tables are first refreshed from PostgreSQL into bronze; the password comes
from the variable named by [backend].password_env. Prints the match rate and revenue delta.
"""

from __future__ import annotations

import json
import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.config import with_overrides
from journeylake.stages import reconcile
from journeylake.stages.backend import land_backend


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--jdbc-url", help="PostgreSQL JDBC URL of the backend; overrides [backend].jdbc_url")
    parser.add_argument("--db-user", help="backend database user; overrides [backend].user")
    args = parser.parse_args(argv)
    config = with_overrides(config_from_args(args), **{"backend.jdbc_url": args.jdbc_url, "backend.user": args.db_user})
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    if config.backend.jdbc_url:
        landed = land_backend(context)
        print(landed.summary_line())
        if landed.failed:
            return 1
    result = reconcile.run(context)
    print(result.summary_line())
    print(json.dumps(result.details, sort_keys=True))
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
