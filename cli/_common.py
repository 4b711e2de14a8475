"""Helpers shared by the subcommands: environment loading, errors, masking, logging."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from qstash_receiver.names import REGIONS, Region, normalize_region
from qstash_receiver.secret import Secret, mask

__all__ = [
    "CliError",
    "Console",
    "add_body_options",
    "add_env_options",
    "declared_length",
    "masked",
    "needs_extra",
    "quiet_library_logs",
    "read_body",
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


@contextmanager
def needs_extra(module: str, extra: str, what: str, package: str | None = None) -> Iterator[None]:
    """Turn the import error of a missing optional ``module`` into a CliError naming the extra.

    Only ``module`` itself counts: any other import error is a bug and propagates.
    ``package`` is its name on PyPI when that differs (``python-dotenv`` for ``dotenv``).
    """
    try:
        yield
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise CliError(
            f"{what} needs {package or module}, which is not installed: "
            f'pip install "qstash-receiver[{extra}]"'
        ) from None


class Console:
    """Lines to a terminal from several threads: each line is written whole, never merged.

    (``print`` writes the text and the newline separately, so two threads interleave.)
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, text: str = "") -> None:
        """Write ``text`` and a newline as one write, then flush."""
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(text + "\n")
            stream.flush()


def add_body_options(parser: argparse.ArgumentParser, what: str) -> None:
    """The body of a command: a ``file`` argument (``-`` or none: stdin) or ``--data``."""
    parser.add_argument("file", nargs="?", help=f"{what} ('-' or omitted: stdin)")
    parser.add_argument("--data", help="the body as text (instead of a file)")


def read_body(file: str | None, data: str | None) -> bytes:
    """The body from ``--data``, a file, or stdin.

    With neither a file nor ``--data`` and a terminal on stdin, nothing is waited for: a
    `CliError` says how to give the body (``-`` reads the terminal, with a hint).
    """
    if data is not None:
        if file is not None:
            raise CliError("give a body file or --data, not both")
        return data.encode("utf-8")
    if file is None or file == "-":
        if sys.stdin.isatty():
            if file is None:
                raise CliError(
                    "no body given: pass a body file, --data TEXT, or pipe the body in "
                    "(or '-' to type it here)"
                )
            print(
                "reading the body from the terminal: end it with Ctrl-D "
                "(Ctrl-Z then Enter on Windows)",
                file=sys.stderr,
            )
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {file}: {err.strerror}") from None


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
    with needs_extra("dotenv", "cli", "--env-file", package="python-dotenv"):
        from dotenv import dotenv_values
    values = {name: value for name, value in dotenv_values(path).items() if value is not None}
    return values if args.env_file_only else {**os.environ, **values}


def region_arg(value: str) -> Region:
    """argparse type: a region in any spelling (``us-east-1``, ``US_EAST_1``)."""
    region = normalize_region(value)
    if region is None:
        choices = " or ".join(REGIONS)
        raise argparse.ArgumentTypeError(f"not a QStash region: {value!r} (use {choices})")
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
