"""``qstash-receiver sign``: an ``Upstash-Signature`` for a body, for curl tests.

This command prints a signature on purpose; doctor and verify never print keys or signatures.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from qstash_receiver.config import load_config
from qstash_receiver.errors import ConfigError, UnknownRegionError
from qstash_receiver.names import REGIONS
from qstash_receiver.token import DEFAULT_LIFETIME, signed_headers

from ._common import CliError, add_body_options, add_env_options, read_body, read_env, region_arg

__all__ = ["content_type_for", "curl_command", "printf_command", "register", "run"]

DEFAULT_URL = "https://example.com/api/qstash"
# Printable ASCII that printf's format and a single-quoted shell word both take literally.
_LITERAL = frozenset(range(0x20, 0x7F)) - set(b"'\\%")


def register(commands: Any) -> None:
    """Add the ``sign`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "sign",
        help="make an Upstash-Signature for a body (prints it)",
        description="Sign a body as QStash would. The key is --key, or the current key the "
        "configuration uses for --region (migration mode) or QSTASH_CURRENT_SIGNING_KEY.",
    )
    add_body_options(parser, "the body file")
    parser.add_argument("--key", help="the signing key (default: from the environment)")
    parser.add_argument("--region", type=region_arg, help="sign as this region (e.g. US_EAST_1)")
    parser.add_argument("--next", action="store_true", help="use the next key, not the current")
    parser.add_argument("--url", help=f"the destination URL, signed as sub ({DEFAULT_URL})")
    parser.add_argument(
        "--lifetime", type=int, default=DEFAULT_LIFETIME, help="seconds until exp (300)"
    )
    parser.add_argument("--curl", action="store_true", help="print a curl command instead")
    parser.add_argument(
        "--content-type",
        metavar="TYPE",
        help="with --curl: the Content-Type to send (default: application/json when the body "
        "is JSON, else application/octet-stream)",
    )
    add_env_options(parser)
    parser.set_defaults(run=run)


def _key(args: argparse.Namespace) -> str:
    if args.key:
        return str(args.key)
    try:
        keys = load_config(read_env(args)).keys_for(args.region)
    except UnknownRegionError:
        raise CliError(
            "migration mode without a default key pair: pick the region's keys with --region "
            f"({' or '.join(REGIONS)}), or give the key with --key KEY"
        ) from None
    except ConfigError as err:
        raise CliError(f"{err}; or give the key with --key KEY") from None
    return (keys.next if args.next else keys.current).reveal()


def run(args: argparse.Namespace) -> int:
    """Print the signature (or a curl command).

    Raises:
        CliError, ConfigError: no body or no key (the CLI prints it and exits 2).
    """
    if args.curl and not args.url:
        raise CliError("--curl needs --url (the endpoint to call)")
    if args.lifetime <= 0:
        raise CliError("--lifetime must be positive")
    key = _key(args)  # before the body: a missing key is reported without reading stdin
    body = read_body(args.file, args.data)
    url = args.url or DEFAULT_URL
    headers = signed_headers(body, key=key, url=url, region=args.region, lifetime=args.lifetime)
    if not args.curl:
        print(headers["Upstash-Signature"])
        return 0
    headers["Content-Type"] = args.content_type or content_type_for(body)
    print(curl_command(url, headers, body, args.file, args.data))
    return 0


def content_type_for(body: bytes) -> str:
    """``application/json`` when ``body`` is UTF-8 JSON, else ``application/octet-stream``."""
    try:
        json.loads(body.decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError
        return "application/octet-stream"
    return "application/json"


def printf_command(body: bytes) -> str:
    """A POSIX ``printf`` command that writes exactly ``body`` (NULs and newlines included)."""
    escaped = "".join(chr(b) if b in _LITERAL else f"\\{b:03o}" for b in body)
    return f"printf '{escaped}'"


def curl_command(
    url: str, headers: dict[str, str], body: bytes, file: str | None, data: str | None
) -> str:
    """A curl command that sends ``body`` with ``headers`` to ``url``, byte for byte.

    A body read from a file is sent with ``@file``; text from ``--data`` as it is; a body
    read from stdin (already consumed) or text starting with ``@`` (curl would read that file)
    is piped in by `printf_command()`.
    """
    lines = [f"curl -sS -X POST {shlex.quote(url)}"]
    lines += [f"  -H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    prefix = ""
    if file is not None and file != "-":
        lines.append(f"  --data-binary @{shlex.quote(file)}")
    elif data is not None and not data.startswith("@"):
        lines.append(f"  --data-binary {shlex.quote(data)}")
    else:
        prefix = f"{printf_command(body)} |\n"
        lines.append("  --data-binary @-")
    return prefix + " \\\n".join(lines)
