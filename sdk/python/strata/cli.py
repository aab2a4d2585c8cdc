"""``strata-py``: the basics from Python, for a machine without the .NET CLI.

Only ``login`` and ``jobs list``; everything else is the ``strata`` CLI's (README: "Install the CLI").
``login`` writes the same config file as ``strata login``, so either tool's login serves both.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import config
from .client import Client
from .errors import StrataError


def main(argv: Optional[List[str]] = None) -> int:
    """Runs ``strata-py`` with ``argv`` (default: the command line); returns the exit status."""
    parser = argparse.ArgumentParser(prog="strata-py", description="Strata's Python basics: login and jobs list. "
                                     "Everything else is the 'strata' CLI.")
    commands = parser.add_subparsers(dest="command", required=True)
    login = commands.add_parser("login", help="save the server's URL and a token (the CLI's config file)")
    login.add_argument("url", help="the server, e.g. http://localhost:8080")
    login.add_argument("--token", required=True, help="the bearer token")
    jobs = commands.add_parser("jobs", help="training jobs")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = jobs_commands.add_parser("list", help="list the tenant's jobs, newest first")
    listing.add_argument("--status", help="pending, running, succeeded, failed or cancelled")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    args = parser.parse_args(argv)
    try:
        if args.command == "login":
            client = Client(api_url=args.url, token=args.token, output=None)
            me = client.me()
            path = config.save_config(client.api_url, args.token)
            print(f"Logged in to {client.api_url} as {me.get('subject') or me.get('sub') or me.get('role')} "
                  f"(tenant {me.get('tenant_id') or '-'}); saved to {path}")
            return 0
        client = Client(output=None)
        print(f"{'ID':<36}  {'NAME':<32}  {'STATUS':<10}  CREATED")
        for count, job in enumerate(client.jobs.list(status=args.status), start=1):
            if count > args.limit:
                break
            print(f"{job.id:<36}  {(job.name or '')[:32]:<32}  {job.status:<10}  {job.data.get('created_at', '')}")
        return 0
    except StrataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
