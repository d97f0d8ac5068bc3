"""`movie-rag db url|start|stop|status` — the embedded PostgreSQL server."""

from __future__ import annotations

import argparse

from chatbot.cli import EXIT_ERROR, EXIT_OK, print_json
from chatbot.settings import Settings
from retrieval.database import describe_url, embedded_status, start_embedded, stop_embedded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="start, stop or locate the database")
    p.add_argument("action", choices=("url", "start", "stop", "status"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    external = settings.database_url
    if args.action == "url":
        url = external or start_embedded(settings.pgdata)
        print_json({"url": url}) if args.json else print(url)
        return EXIT_OK
    if external:
        # With DATABASE_URL set nothing embedded starts or stops; report what is configured.
        if args.action in ("start", "stop"):
            print(f"DATABASE_URL is set ({describe_url(external)}); the embedded server is not used.")
        else:
            print_json({"external": True, "url": describe_url(external)}) if args.json else print(
                f"external database: {describe_url(external)}"
            )
        return EXIT_OK
    if args.action == "start":
        url = start_embedded(settings.pgdata)
        print_json({"running": True, "url": url}) if args.json else print(f"running: {url}")
        return EXIT_OK
    if args.action == "stop":
        stopped = stop_embedded(settings.pgdata)
        if args.json:
            print_json({"stopped": stopped})
        else:
            print("stopped" if stopped else f"not running (data dir {settings.pgdata})")
        return EXIT_OK
    status = embedded_status(settings.pgdata)
    if args.json:
        print_json({"running": status.running, "url": status.url, "pgdata": str(status.pgdata), "pid": status.pid})
    else:
        print(f"running: {status.url} (pid {status.pid})" if status.running else f"stopped (data dir {status.pgdata})")
    return EXIT_OK if status.running else EXIT_ERROR
