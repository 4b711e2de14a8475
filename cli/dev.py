"""``qstash-receiver dev``: run the local two-region QStash stand-in until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from qstash_receiver.env import REGIONS, Region

from ._common import CliError, region_arg

if TYPE_CHECKING:
    from .devserver import Attempt, DevServer

__all__ = ["print_env_block", "register", "run"]

BANNER = """\
qstash-receiver dev: a LOCAL STAND-IN for QStash, for development and tests only.
It is not QStash: no persistence, schedules, queues, URL groups or callbacks. It signs with
fixed demo keys that are public, so never configure them in a deployed application."""


def register(commands: Any) -> None:
    """Add the ``dev`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "dev",
        help="run a local two-region QStash stand-in (development only)",
        description=BANNER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--eu-port", type=int, default=8180, help="EU_CENTRAL_1 port (8180)")
    parser.add_argument("--us-port", type=int, default=8181, help="US_EAST_1 port (8181)")
    parser.add_argument(
        "--primary", type=region_arg, default="US_EAST_1", help="QSTASH_REGION to print"
    )
    parser.add_argument("--retries", type=int, default=3, help="default Upstash-Retries (3)")
    parser.add_argument("--backoff", type=float, default=1.0, help="first retry delay, s (1)")
    parser.add_argument("--timeout", type=float, default=10.0, help="delivery timeout, s (10)")
    parser.set_defaults(run=run)


def print_env_block(server: DevServer, primary: Region) -> None:
    """Print the migration-mode variables that point at ``server`` (real demo values)."""
    print("# Local development values for qstash-receiver dev (NOT QStash credentials).")
    print("# Copy into .env or export them (migration mode, both regions):")
    for name, value in server.env(primary).items():
        print(f'{name}="{value}"')
    sys.stdout.flush()


def _show(attempt: Attempt) -> None:
    outcome = str(attempt.status) if attempt.status is not None else f"no answer ({attempt.error})"
    state = "delivered" if attempt.ok else ("failed" if attempt.final else "will retry")
    print(
        f"[{attempt.region}] {attempt.message_id} {attempt.method} {attempt.destination} "
        f"retried={attempt.retried} -> {outcome} {state}",
        flush=True,
    )


def _stop_on_sigterm() -> None:
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); returns 0.

    Raises:
        CliError: a port is taken or an option is invalid.
    """
    from .devserver import DevServer  # httpx only when the stand-in runs

    if args.retries < 0 or args.backoff < 0 or args.timeout <= 0:
        raise CliError("--retries and --backoff must not be negative, --timeout positive")
    ports: dict[Region, int] = {"EU_CENTRAL_1": args.eu_port, "US_EAST_1": args.us_port}
    server = DevServer(
        host=args.host,
        ports=ports,
        default_retries=args.retries,
        backoff=args.backoff,
        timeout=args.timeout,
        on_attempt=_show,
    )
    try:
        server.start()
    except OSError as err:
        raise CliError(f"cannot bind {args.host}: {err.strerror}") from None
    _stop_on_sigterm()
    try:
        print(BANNER)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"WARNING: listening on {args.host}: anyone reaching it can publish.")
        for region in REGIONS:
            print(f"  {region}: {server.url(region)}/v2/publish/<destination>")
        print()
        print_env_block(server, args.primary)
        print("\nWaiting for publishes (Ctrl-C to stop)...", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        server.stop()
    return 0
