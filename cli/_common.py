"""Helpers shared by the subcommands: environment loading, errors, masking, logging."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from qstash_receiver.env import REGIONS, Region, normalize_region
from qstash_receiver.secret import Secret, mask

__all__ = [
    "CliError",
    "add_env_options",
    "declared_length",
    "masked",
    "quiet_library_logs",
    "read_env",
    "region_arg",
]


def declared_length(value: str | None) -> int | None:
    """A request's Content-Length (0 when absent), or None when it is not a length.

    Negative values count as invalid: ``rfile.read(-1)`` would wait for the client to hang up.
    """
    try:
        length = int(value or 0)
    except ValueError:
        return None
    return length if length >= 0 else None


class CliError(Exception):
    """A usage or input problem: printed as ``error: ...``, exit status 2."""


def add_env_options(parser: argparse.ArgumentParser) -> None:
    """``--env-file`` / ``--env-file-only``, for every command that reads configuration."""
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="read variables from a .env file; they override the process environment",
    )
    parser.add_argument(
        "--env-file-only",
        action="store_true",
        help="with --env-file: use only the file's variables, not the process environment",
    )


def read_env(args: argparse.Namespace) -> Mapping[str, str]:
    """The environment the command resolves its configuration from."""
    if args.env_file is None:
        if args.env_file_only:
            raise CliError("--env-file-only needs --env-file PATH")
        return dict(os.environ)
    path = Path(args.env_file)
    if not path.is_file():
        raise CliError(f"env file not found: {path}")
    try:
        from dotenv import dotenv_values
    except ImportError:
        raise CliError("--env-file needs python-dotenv: pip install python-dotenv") from None
    values = {name: value for name, value in dotenv_values(path).items() if value is not None}
    return values if args.env_file_only else {**os.environ, **values}


def region_arg(value: str) -> Region:
    """argparse type: a region in any spelling (``us-east-1``, ``US_EAST_1``)."""
    region = normalize_region(value)
    if region is None:
        raise argparse.ArgumentTypeError(f"not a QStash region: {value!r} (use one of {REGIONS})")
    return region


def masked(secret: Secret | None) -> str:
    """A key or token as doctor shows it: a short prefix and the length, never more."""
    return "not set" if secret is None else mask(secret.reveal())


@contextmanager
def quiet_library_logs() -> Iterator[None]:
    """Keep the library's log lines off the terminal: the commands report what matters.

    (Without a handler, Python would print its warnings to stderr through ``lastResort``.)
    """
    logger = logging.getLogger("qstash_receiver")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
