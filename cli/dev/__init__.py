"""``qstash-receiver dev``: run the local two-region QStash stand-in until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

from qstash_receiver.names import REGIONS, Region

from .._common import CliError, Console, needs_extra, region_arg

if TYPE_CHECKING:
    from .server import Attempt, DevServer

__all__ = ["attempt_line", "print_env_block", "register", "run"]

BANNER = """\
qstash-receiver dev: a LOCAL STAND-IN for QStash, for development and tests only.
It is not QStash: nothing persists, and it signs with fixed demo keys that are public,
so never configure them in a deployed application.
As QStash does, it retries non-2xx answers (honouring Retry-After, cut to --max-retry-after),
dead-letters a message after its retries or on 489 with Upstash-NonRetryable-Error: true
(GET /v2/dlq lists them), and calls Upstash-Callback / Upstash-Failure-Callback URLs.
Through the official SDKs' calls it also keeps schedules (fired on their cron), queues,
URL groups (a publish to a group's name reaches each endpoint) and the logs (GET /v2/events).
Dev only: --deliver-twice, or the publish header X-Dev-Deliver-Twice: true, delivers a
message once more after it succeeded, to try a duplicate-delivery guard."""


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
    parser.add_argument("--workers", type=int, default=8, help="delivery threads (8)")
    parser.add_argument(
        "--max-retry-after",
        type=float,
        default=60.0,
        help="longest Retry-After honoured, s (60; QStash: one day)",
    )
    parser.add_argument(
        "--deliver-twice",
        action="store_true",
        help="deliver every message once more after it succeeded (dev only)",
    )
    parser.set_defaults(run=run)


def print_env_block(server: DevServer, primary: Region, console: Console | None = None) -> None:
    """Print the migration-mode variables that point at ``server`` (real demo values)."""
    say = (console or Console()).line
    say("# Local development values for qstash-receiver dev (NOT QStash credentials).")
    say("# Copy into .env or export them (migration mode, both regions):")
    for name, value in server.env(primary).items():
        say(f'{name}="{value}"')


def _state(attempt: Attempt) -> str:
    if attempt.dlq_id is not None:
        return f"dead-lettered (dlq id {attempt.dlq_id})"
    if attempt.retry_in is not None:
        return f"will retry in {attempt.retry_in:g} s"
    if attempt.ok:
        return "delivered" if attempt.final else "delivered; a duplicate copy follows"
    return "failed"


def attempt_line(attempt: Attempt) -> str:
    """One console line for an attempt."""
    outcome = str(attempt.status) if attempt.status is not None else f"no answer ({attempt.error})"
    kind = "" if attempt.kind == "message" else f" ({attempt.kind})"
    copy = " (duplicate copy)" if attempt.duplicate else ""
    line = (
        f"[{attempt.region}] {attempt.message_id}{kind}{copy} {attempt.method} "
        f"{attempt.destination} retried={attempt.retried} -> {outcome} {_state(attempt)}"
    )
    if attempt.callback_id is not None:
        line += f"; callback {attempt.callback_id}"
    if attempt.failure_callback_id is not None:
        line += f"; failure callback {attempt.failure_callback_id}"
    return line


def _stop_on_sigterm() -> None:
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); returns 0.

    Raises:
        CliError: httpx is missing, a port is taken or an option is invalid.
    """
    what = "qstash-receiver dev"
    with needs_extra("httpx", "cli", what), needs_extra("cronsim", "cli", what):
        from .server import DevServer

    if args.retries < 0 or args.backoff < 0 or args.timeout <= 0 or args.max_retry_after < 0:
        raise CliError(
            "--retries, --backoff and --max-retry-after must not be negative, --timeout positive"
        )
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    console = Console()
    ports: dict[Region, int] = {"EU_CENTRAL_1": args.eu_port, "US_EAST_1": args.us_port}
    server = DevServer(
        host=args.host,
        ports=ports,
        default_retries=args.retries,
        backoff=args.backoff,
        timeout=args.timeout,
        workers=args.workers,
        max_retry_after=args.max_retry_after,
        deliver_twice=args.deliver_twice,
        on_attempt=lambda attempt: console.line(attempt_line(attempt)),
    )
    try:
        server.start()
    except OSError as err:
        raise CliError(f"cannot bind {args.host}: {err.strerror}") from None
    _stop_on_sigterm()
    try:
        console.line(BANNER)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            console.line(f"WARNING: listening on {args.host}: anyone reaching it can publish.")
        for region in REGIONS:
            console.line(f"  {region}: {server.url(region)}/v2/publish/<destination>")
        console.line()
        print_env_block(server, args.primary, console)
        console.line("\nWaiting for publishes (Ctrl-C to stop)...")
        threading.Event().wait()
    except KeyboardInterrupt:
        console.line("stopping")
    finally:
        server.stop()
    return 0
