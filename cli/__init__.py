"""The ``qstash-receiver`` console script: ``doctor``, ``sign``, ``verify``, ``dev``, ``migrate``.

Each subcommand lives in its own module with ``register(subparsers)``; this module only
dispatches. Importing it does not import httpx (``dev`` loads it when run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from qstash_receiver import __version__
from qstash_receiver.errors import ConfigError

from . import dev, doctor, migrate, sign, verify
from ._common import CliError, quiet_library_logs

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qstash-receiver",
        description="Check, sign and verify QStash deliveries; run a local two-region stand-in.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (doctor, sign, verify, dev, migrate):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the console script; returns the exit status.

    Exit status: 0 success; 1 the check failed (doctor: nothing can be verified; verify: the
    delivery was rejected); 2 bad usage or an invalid configuration.
    """
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as done:  # --help, or a usage error argparse already printed
        return done.code if isinstance(done.code, int) else 2
    command: Command = args.run
    try:
        with quiet_library_logs():
            return command(args)
    except (CliError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
